SELECT
  "owner.owner",
  "won_amount"
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY TRUE ORDER BY "won_amount" DESC) AS "_rank"
  FROM (
    WITH u0 AS (
      SELECT
        "d_owner"."owner_name" AS "_l0",
        SUM(CASE WHEN "f"."is_won" THEN "f"."amount_reporting" END) AS "m_won_amount"
      FROM "marts"."fct_opportunities" AS f
      LEFT JOIN "marts"."dim_owner" AS d_owner
        ON "f"."owner_key" = "d_owner"."owner_key"
      GROUP BY
        "d_owner"."owner_name"
    )
    SELECT
      "u0"."_l0" AS "owner.owner",
      "u0"."m_won_amount" AS "won_amount"
    FROM u0
  ) AS "q"
) AS "ranked"
WHERE
  "_rank" <= 1
ORDER BY
  "won_amount" DESC,
  "owner.owner"
