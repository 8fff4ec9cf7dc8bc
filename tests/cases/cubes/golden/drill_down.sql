WITH u0 AS (
  SELECT
    "d_date"."year_quarter" AS "_l0",
    COUNT(CASE WHEN "f"."is_won" THEN 1 END) AS "m_won"
  FROM "marts"."fct_opportunities" AS f
  LEFT JOIN "marts"."dim_date" AS d_date
    ON "f"."created_date" = "d_date"."date_day"
  WHERE
    "d_date"."year" = $1
  GROUP BY
    "d_date"."year_quarter"
)
SELECT
  "u0"."_l0" AS "date.quarter",
  "u0"."m_won" AS "won"
FROM u0
ORDER BY
  "date.quarter"
