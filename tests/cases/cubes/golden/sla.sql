WITH u0 AS (
  SELECT
    "d_channel"."channel_group" AS "_l0",
    COUNT(
      CASE
        WHEN "f"."is_first_response"
        AND "f"."response_business_seconds" <= "d_channel"."sla_first_response_seconds"
        THEN 1
      END
    ) AS "m_first_responses_within_sla",
    COUNT(CASE WHEN "f"."is_first_response" THEN 1 END) AS "m_first_responses"
  FROM "marts"."fct_interactions" AS f
  LEFT JOIN "marts"."dim_channel" AS d_channel
    ON "f"."channel_key" = "d_channel"."channel_key"
  GROUP BY
    "d_channel"."channel_group"
)
SELECT
  "u0"."_l0" AS "channel.group",
  CAST(COALESCE("u0"."m_first_responses_within_sla", 0) AS DOUBLE) / NULLIF(CAST(COALESCE("u0"."m_first_responses", 0) AS DOUBLE), 0) AS "sla_attainment"
FROM u0
ORDER BY
  "channel.group"
