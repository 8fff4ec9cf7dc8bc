WITH u0 AS (
  SELECT
    "d_customer"."segment" AS "_l0",
    COUNT(*) AS "m_leads"
  FROM "marts"."fct_leads" AS f
  LEFT JOIN "marts"."dim_customer" AS d_customer
    ON "f"."customer_key" = "d_customer"."customer_key" AND "d_customer"."is_current"
  GROUP BY
    "d_customer"."segment"
)
SELECT
  "u0"."_l0" AS "customer.segment",
  "u0"."m_leads" AS "leads"
FROM u0
ORDER BY
  "customer.segment"
