WITH u0 AS (
  SELECT
    "d_date"."month_start_date" AS "_l0",
    COUNT(CASE WHEN "f"."is_won" THEN 1 END) AS "m_won"
  FROM "marts"."fct_opportunities" AS f
  LEFT JOIN "marts"."dim_date" AS d_date
    ON "f"."created_date" = "d_date"."date_day"
  GROUP BY
    "d_date"."month_start_date"
), u1_periods AS (
  SELECT
    "d"."month_start_date" AS "_p",
    MIN("d"."date_day") AS "_ps",
    MAX("d"."date_day") AS "_pe"
  FROM "marts"."dim_date" AS d
  GROUP BY
    "d"."month_start_date"
), u1_days AS (
  SELECT DISTINCT
    "f"."created_date" AS "_day"
  FROM "marts"."fct_opportunities" AS f
), u1_windows AS (
  SELECT
    "p"."_p",
    "x"."_day"
  FROM u1_periods AS p
  INNER JOIN u1_days AS x
    ON "x"."_day" BETWEEN CAST("p"."_ps" + INTERVAL (-1) MONTH AS DATE) AND CAST("p"."_ps" + INTERVAL (-1) DAY AS DATE)
), u1 AS (
  SELECT
    "p"."_p" AS "_l0",
    COUNT(CASE WHEN "f"."is_won" THEN 1 END) AS "m_won"
  FROM "marts"."fct_opportunities" AS f
  INNER JOIN u1_windows AS p
    ON "f"."created_date" = "p"."_day"
  GROUP BY
    "p"."_p"
), u2_periods AS (
  SELECT
    "d"."month_start_date" AS "_p",
    MIN("d"."date_day") AS "_ps",
    MAX("d"."date_day") AS "_pe"
  FROM "marts"."dim_date" AS d
  GROUP BY
    "d"."month_start_date"
), u2_days AS (
  SELECT DISTINCT
    "f"."created_date" AS "_day"
  FROM "marts"."fct_opportunities" AS f
), u2_windows AS (
  SELECT
    "p"."_p",
    "x"."_day"
  FROM u2_periods AS p
  INNER JOIN u2_days AS x
    ON "x"."_day" BETWEEN CAST(DATE_TRUNC('YEAR', "p"."_ps") AS DATE) AND "p"."_pe"
), u2 AS (
  SELECT
    "p"."_p" AS "_l0",
    COUNT(CASE WHEN "f"."is_won" THEN 1 END) AS "m_won"
  FROM "marts"."fct_opportunities" AS f
  INNER JOIN u2_windows AS p
    ON "f"."created_date" = "p"."_day"
  GROUP BY
    "p"."_p"
), u3_periods AS (
  SELECT
    "d"."month_start_date" AS "_p",
    MIN("d"."date_day") AS "_ps",
    MAX("d"."date_day") AS "_pe"
  FROM "marts"."dim_date" AS d
  GROUP BY
    "d"."month_start_date"
), u3_days AS (
  SELECT DISTINCT
    "f"."created_date" AS "_day"
  FROM "marts"."fct_opportunities" AS f
), u3_windows AS (
  SELECT
    "p"."_p",
    "x"."_day"
  FROM u3_periods AS p
  INNER JOIN u3_days AS x
    ON "x"."_day" BETWEEN CAST(CAST("p"."_pe" + INTERVAL 1 DAY AS DATE) + INTERVAL (-3) MONTH AS DATE) AND "p"."_pe"
), u3 AS (
  SELECT
    "p"."_p" AS "_l0",
    COUNT(CASE WHEN "f"."is_won" THEN 1 END) AS "m_won"
  FROM "marts"."fct_opportunities" AS f
  INNER JOIN u3_windows AS p
    ON "f"."created_date" = "p"."_day"
  GROUP BY
    "p"."_p"
)
SELECT
  "u0"."_l0" AS "date.month",
  COALESCE("u0"."m_won", 0) AS "won",
  "u1"."m_won" AS "won@previous_period",
  "u2"."m_won" AS "won@ytd",
  "u3"."m_won" AS "won@rolling_3m"
FROM u0
LEFT JOIN u1
  ON "u0"."_l0" IS NOT DISTINCT FROM "u1"."_l0"
LEFT JOIN u2
  ON "u0"."_l0" IS NOT DISTINCT FROM "u2"."_l0"
LEFT JOIN u3
  ON "u0"."_l0" IS NOT DISTINCT FROM "u3"."_l0"
ORDER BY
  "date.month"
