WITH u0 AS (
  SELECT
    "d_date"."month_start_date" AS "_l0",
    COUNT(*) AS "m_interactions"
  FROM "marts"."fct_interactions" AS f
  LEFT JOIN "marts"."dim_date" AS d_date
    ON "f"."occurred_date" = "d_date"."date_day"
  WHERE
    "d_date"."date_day" BETWEEN $1 AND $2
  GROUP BY
    "d_date"."month_start_date"
)
SELECT
  "u0"."_l0" AS "date.month",
  "u0"."m_interactions" AS "interactions"
FROM u0
ORDER BY
  "date.month"
