WITH u0 AS (
  SELECT
    "d_cohort"."month_start_date" AS "_l0",
    "f"."months_since_acquisition" AS "_l1",
    COUNT(DISTINCT CASE WHEN "f"."is_active" THEN "f"."customer_key" END) AS "m_customers_active",
    COUNT(DISTINCT "f"."customer_key") AS "m_customers_in_cohort"
  FROM "marts"."fct_customer_months" AS f
  LEFT JOIN "marts"."dim_date" AS d_cohort
    ON "f"."cohort_month" = "d_cohort"."date_day"
  GROUP BY
    "d_cohort"."month_start_date",
    "f"."months_since_acquisition"
)
SELECT
  "u0"."_l0" AS "cohort.month",
  "u0"."_l1" AS "age.months_since_acquisition",
  CAST("u0"."m_customers_active" AS DOUBLE) / NULLIF(CAST("u0"."m_customers_in_cohort" AS DOUBLE), 0) AS "retention_rate"
FROM u0
ORDER BY
  "cohort.month",
  "age.months_since_acquisition"
