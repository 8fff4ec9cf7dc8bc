WITH u0 AS (
  SELECT
    "d_owner"."team_name" AS "_l0",
    COUNT(CASE WHEN "f"."is_won" THEN 1 END) AS "m_won",
    COUNT(CASE WHEN "f"."is_lost" THEN 1 END) AS "m_lost"
  FROM "marts"."fct_opportunities" AS f
  LEFT JOIN "marts"."dim_owner" AS d_owner
    ON "f"."owner_key" = "d_owner"."owner_key"
  LEFT JOIN "marts"."dim_campaign" AS d_campaign
    ON "f"."campaign_key" = "d_campaign"."campaign_key"
  WHERE
    "d_campaign"."lead_source" IN ($1, $2)
  GROUP BY
    "d_owner"."team_name"
)
SELECT
  "u0"."_l0" AS "owner.team",
  "u0"."m_won" AS "won",
  CAST(COALESCE("u0"."m_won", 0) AS DOUBLE) / NULLIF(CAST(COALESCE("u0"."m_won", 0) + COALESCE("u0"."m_lost", 0) AS DOUBLE), 0) AS "win_rate"
FROM u0
ORDER BY
  "owner.team"
