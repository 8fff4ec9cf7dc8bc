WITH u0 AS (
  SELECT
    "d_owner"."team_name" AS "_l0",
    GROUPING("d_owner"."team_name") AS "_g0",
    COUNT(*) AS "m_leads"
  FROM "marts"."fct_leads" AS f
  LEFT JOIN "marts"."dim_owner" AS d_owner
    ON "f"."owner_key" = "d_owner"."owner_key"
  GROUP BY
    GROUPING SETS (
      ("d_owner"."team_name"),
      ()
    )
), u1 AS (
  SELECT
    "d_owner"."team_name" AS "_l0",
    GROUPING("d_owner"."team_name") AS "_g0",
    COUNT(CASE WHEN "f"."is_won" THEN 1 END) AS "m_won"
  FROM "marts"."fct_opportunities" AS f
  LEFT JOIN "marts"."dim_owner" AS d_owner
    ON "f"."owner_key" = "d_owner"."owner_key"
  GROUP BY
    GROUPING SETS (
      ("d_owner"."team_name"),
      ()
    )
), u2 AS (
  SELECT
    "d_owner"."team_name" AS "_l0",
    GROUPING("d_owner"."team_name") AS "_g0",
    MEDIAN("f"."days_in_stage") AS "m_median_days_in_stage"
  FROM "marts"."fct_opportunity_stage_changes" AS f
  LEFT JOIN "marts"."dim_owner" AS d_owner
    ON "f"."owner_key" = "d_owner"."owner_key"
  GROUP BY
    GROUPING SETS (
      ("d_owner"."team_name"),
      ()
    )
)
SELECT
  COALESCE("u0"."_l0", "u1"."_l0", "u2"."_l0") AS "owner.team",
  COALESCE("u0"."_g0", "u1"."_g0", "u2"."_g0") = 1 AS "owner.team__total",
  COALESCE("u0"."m_leads", 0) AS "leads",
  COALESCE("u1"."m_won", 0) AS "won",
  "u2"."m_median_days_in_stage" AS "median_days_in_stage"
FROM u0
FULL JOIN u1
  ON "u0"."_l0" IS NOT DISTINCT FROM "u1"."_l0" AND "u0"."_g0" = "u1"."_g0"
FULL JOIN u2
  ON COALESCE("u0"."_l0", "u1"."_l0") IS NOT DISTINCT FROM "u2"."_l0"
  AND COALESCE("u0"."_g0", "u1"."_g0") = "u2"."_g0"
ORDER BY
  "owner.team__total",
  "owner.team"
