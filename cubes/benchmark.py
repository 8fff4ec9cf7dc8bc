"""Latency of the cube engine against equivalent hand-written DuckDB SQL, with and without pre-aggregations.

Fifty queries: ten families (mixed measures, facts, levels and filters) times five levels or filter values.
The hand-written SQL of each family is a template written once by hand; only whitelisted level columns and
filter values from the fixed list below are substituted into it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import duckdb

from cubes.engine import compile_cached, compile_with_sql, execute
from cubes.preaggregations import materialise
from cubes.query import Filter, Query

DATE_LEVELS = [
    ("date.year", "year"),
    ("date.quarter", "year_quarter"),
    ("date.month", "month_start_date"),
    ("date.week", "week_start_date"),
    ("date.fiscal_quarter", "fiscal_year_quarter"),
]
SEGMENTS = ["Enterprise", "Mid-Market", "SMB", "Consumer", "unknown"]

C = (
    "left join (select *, case when row_number() over (partition by customer_key order by valid_from) = 1 "
    "then timestamp '1900-01-01' else valid_from end as vf from marts.dim_customer) c on f.customer_key = c.customer_key "
    "and cast(f.{t} as timestamp) >= c.vf and cast(f.{t} as timestamp) < coalesce(c.valid_to, timestamp '9999-12-31')"
)


def _cases() -> list[tuple[Query, str, list[Any]]]:
    cases: list[tuple[Query, str, list[Any]]] = []
    for level, column in DATE_LEVELS:
        cases.append(
            (
                Query("pipeline", ["won", "win_rate"], rows=[level]),
                f"select d.{column}, count(case when is_won then 1 end), count(case when is_won then 1 end)::double / "
                f"nullif((count(case when is_won then 1 end) + count(case when is_lost then 1 end))::double, 0) "
                f"from marts.fct_opportunities f left join marts.dim_date d on f.created_date = d.date_day group by 1 order by 1",
                [],
            )
        )
        cases.append(
            (
                Query("service", ["interactions", "first_response_seconds_median"], rows=[level]),
                f"select d.{column}, count(*), median(case when is_first_response then response_seconds end) "
                f"from marts.fct_interactions f left join marts.dim_date d on f.occurred_date = d.date_day group by 1 order by 1",
                [],
            )
        )
        cases.append(
            (
                Query("service", ["cases", "csat"], rows=[level, "channel.group"]),
                f"select d.{column}, ch.channel_group, count(*), count(case when satisfaction_score >= 4 then 1 end)::double / "
                f"nullif(count(case when satisfaction_score is not null then 1 end)::double, 0) from marts.fct_cases f "
                f"left join marts.dim_date d on f.opened_date = d.date_day left join marts.dim_channel ch on f.channel_key = ch.channel_key "
                f"group by 1, 2 order by 1, 2",
                [],
            )
        )
        cases.append(
            (
                Query(
                    "retention",
                    ["revenue", "net_revenue_retention"],
                    rows=[level.replace("date.", "cohort.")],
                )
                if level in ("date.year", "date.quarter", "date.month")
                else Query("pipeline", ["leads"], rows=[level]),
                (
                    f"select d.{column}, sum(revenue_reporting), sum(revenue_reporting)::double / nullif(sum(first_month_revenue_reporting)::double, 0) "
                    f"from marts.fct_customer_months f left join marts.dim_date d on f.cohort_month = d.date_day group by 1 order by 1"
                )
                if level in ("date.year", "date.quarter", "date.month")
                else f"select d.{column}, count(*) from marts.fct_leads f left join marts.dim_date d on f.created_date = d.date_day group by 1 order by 1",
                [],
            )
        )
        cases.append(
            (
                Query("pipeline", ["leads", "opportunities_created"], rows=[level]),
                f"with l as (select d.{column} k, count(*) n from marts.fct_leads f left join marts.dim_date d on f.created_date = d.date_day group by 1), "
                f"o as (select d.{column} k, count(*) n from marts.fct_opportunities f left join marts.dim_date d on f.created_date = d.date_day group by 1) "
                f"select coalesce(l.k, o.k), coalesce(l.n, 0), coalesce(o.n, 0) from l full join o on l.k is not distinct from o.k order by 1",
                [],
            )
        )
    for segment in SEGMENTS:
        cases.append(
            (
                Query(
                    "pipeline",
                    ["won_amount"],
                    rows=["owner.team"],
                    filters=[Filter("customer.segment", "eq", (segment,))],
                ),
                "select o.team_name, sum(case when is_won then amount_reporting end) from marts.fct_opportunities f "
                "left join marts.dim_owner o on f.owner_key = o.owner_key "
                + C.format(t="created_at")
                + " where c.segment = $1 group by 1 order by 1",
                [segment],
            )
        )
        cases.append(
            (
                Query(
                    "service",
                    ["sla_attainment"],
                    rows=["channel.channel"],
                    filters=[Filter("customer.segment", "eq", (segment,))],
                ),
                "select ch.channel_name, count(case when is_first_response and response_business_seconds <= ch.sla_first_response_seconds then 1 end)::double"
                " / nullif(count(case when is_first_response then 1 end)::double, 0) from marts.fct_interactions f "
                "left join marts.dim_channel ch on f.channel_key = ch.channel_key "
                + C.format(t="occurred_at")
                + " where c.segment = $1 group by 1 order by 1",
                [segment],
            )
        )
        cases.append(
            (
                Query(
                    "customer_value",
                    ["average_order_value"],
                    rows=["customer.region"],
                    filters=[Filter("customer.segment", "eq", (segment,))],
                    customer_version="current",
                ),
                "select c.region, sum(revenue_to_date_reporting)::double / nullif(sum(order_count)::double, 0) from marts.customer_lifetime_value f "
                "left join marts.dim_customer c on f.customer_key = c.customer_key and c.is_current where c.segment = $1 group by 1 order by 1",
                [segment],
            )
        )
        cases.append(
            (
                Query(
                    "retention",
                    ["retention_rate"],
                    rows=["cohort.month", "age.months_since_acquisition"],
                    filters=[Filter("customer.segment", "eq", (segment,))],
                ),
                "select cohort_month, months_since_acquisition, count(distinct case when is_active then f.customer_key end)::double / "
                "nullif(count(distinct f.customer_key)::double, 0) from marts.fct_customer_months f "
                + C.format(t="month_start_date")
                + " where c.segment = $1 group by 1, 2 order by 1, 2",
                [segment],
            )
        )
        cases.append(
            (
                Query(
                    "pipeline",
                    ["median_days_in_stage", "stage_conversion_rate"],
                    rows=["funnel.step"],
                    filters=[Filter("customer.segment", "eq", (segment,))],
                ),
                "select funnel_step, median(days_in_stage), count(distinct case when has_advanced then opportunity_id end)::double / "
                "nullif(count(distinct opportunity_id)::double, 0) from marts.fct_opportunity_stage_changes f "
                + C.format(t="entered_at")
                + " where c.segment = $1 group by 1 order by 1",
                [segment],
            )
        )
    return cases


def _samples(fn: Any, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def query_label(query: Query) -> str:
    """A short readable name of a benchmark query: cube, measures, levels and filters."""
    measures = ",".join(str(m) for m in query.measures)
    levels = " x ".join([*query.rows, *query.columns]) or "(all)"
    filters = "".join(f" [{f.level} {f.op} {','.join(map(str, f.values))}]" for f in query.filters)
    return f"{query.cube}: {measures} by {levels}{filters}"


def run_cube_benchmark(warehouse_path: str | Path, repeat: int = 3) -> dict[str, Any]:
    """Latency (ms) of the engine and of the hand-written SQL for each of the 50 queries, with and without
    pre-aggregations: cold runs compile the query again (compile cache cleared), warm runs find it in the
    cache; the data is in DuckDB's buffers for both and for the hand-written SQL (one run of each query
    comes first), so the ratios measure the engine, not the disk. Each figure is the best of ``repeat`` runs.
    Overhead ratios are per query (engine / hand-written), summarised by their median and 95th percentile.
    Row counts of engine and hand-written answers are compared (a mismatch is counted, it would make the
    ratio meaningless). ``per_query`` lists every query with the pre-aggregation serving it (None: base
    facts) and its figures, to see which queries make the p95. Materialises the pre-aggregations in the
    given file (it is opened read-write) and reports how long that took."""
    con = duckdb.connect(str(warehouse_path))
    con.execute("set enable_progress_bar = false")
    try:
        start = time.perf_counter()
        materialise(con)
        cases = _cases()
        report: dict[str, Any] = {
            "queries": len(cases),
            "materialise_seconds": round(time.perf_counter() - start, 2),
        }
        per_query: list[dict[str, Any]] = [{"query": query_label(q)} for q, _, _ in cases]
        for label, use_pre in (("without_preaggregations", False), ("with_preaggregations", True)):
            compile_cached.cache_clear()
            cold, warm, hand, mismatches = [], [], [], 0
            for row, (query, sql, params) in zip(per_query, cases, strict=True):

                def engine(q: Query = query, u: bool = use_pre) -> Any:
                    compiled, text = compile_with_sql(con, q, use_preaggregations=u)
                    return execute(con, compiled, text)

                def engine_cold(q: Query = query, u: bool = use_pre) -> Any:
                    compile_cached.cache_clear()
                    return engine(q, u)

                # The first run reads the data into DuckDB's buffers, which the hand-written SQL (best of
                # `repeat`) never pays: cold is compile + run with the data as warm as it is for the SQL.
                answer = engine()
                cold.append(min(_samples(engine_cold, repeat)))
                warm.append(min(_samples(engine, repeat)))
                hand.append(min(_samples(lambda s=sql, p=params: con.execute(s, p).fetchall(), repeat)))
                if answer.num_rows != len(con.execute(sql, params).fetchall()):
                    mismatches += 1
                short = "with" if use_pre else "without"
                if use_pre:
                    served = compile_with_sql(con, query, use_preaggregations=True)[0].preaggregations_used
                    row["served_by"] = ",".join(served) or None
                row[f"{short}_cold_ms"] = round(cold[-1] * 1000, 1)
                row[f"{short}_warm_ms"] = round(warm[-1] * 1000, 1)
                row[f"{short}_hand_ms"] = round(hand[-1] * 1000, 1)
            ratios_cold = [c / h for c, h in zip(cold, hand, strict=True)]
            ratios_warm = [w / h for w, h in zip(warm, hand, strict=True)]
            report[label] = {
                "engine_cold_p50_ms": round(statistics.median(cold) * 1000, 1),
                "engine_cold_p95_ms": round(_pct(cold, 0.95) * 1000, 1),
                "engine_warm_p50_ms": round(statistics.median(warm) * 1000, 1),
                "engine_warm_p95_ms": round(_pct(warm, 0.95) * 1000, 1),
                "hand_sql_p50_ms": round(statistics.median(hand) * 1000, 1),
                "hand_sql_p95_ms": round(_pct(hand, 0.95) * 1000, 1),
                "overhead_cold_p50": round(statistics.median(ratios_cold), 2),
                "overhead_cold_p95": round(_pct(ratios_cold, 0.95), 2),
                "overhead_warm_p50": round(statistics.median(ratios_warm), 2),
                "overhead_warm_p95": round(_pct(ratios_warm, 0.95), 2),
                "row_count_mismatches": mismatches,
            }
        report["per_query"] = per_query
        return report
    finally:
        con.close()
