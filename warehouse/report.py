"""``crmwh report``: the nightly dashboard, one self-contained HTML file.

Every number comes from the cube layer (:func:`cubes.engine.run_query`), never from SQL of its own, so the
dashboard and the cubes always agree. The plotly.js bundle is inlined once, so the file works offline with no
external script. The answer of every cube query (and the query itself, in the ``POST /query`` shape) is embedded
as JSON in ``<script type="application/json" id="crmwh-data">`` so a reader or a test can check the charts
against the cubes.
"""

from __future__ import annotations

import html
import json
import math
import time
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pyarrow as pa
import typer

from cubes.engine import run_query
from cubes.errors import CubeError
from cubes.query import OrderBy, Query
from warehouse.config import Settings
from warehouse.errors import WarehouseError

DATA_ELEMENT_ID = "crmwh-data"
DEFAULT_REPORT_NAME = "crmwh-dashboard.html"
FUNNEL_STEPS = (("leads", "Leads"), ("converted_leads", "Converted to opportunity"), ("won", "Won"))
# One row per customer: the key keeps namesakes apart, name and city label the row.
# The dashboard is shared widely: customers appear by their warehouse key, never by name or city
# (personal data; look a key up in marts.dim_customer with clear-text access).
CUSTOMER_GRAIN = ("customer.customer_key", "customer.segment", "customer.country")
PROBABILITY_BUCKETS = 10
AT_RISK_PROBABILITY = 0.5
AT_RISK_COUNT = 15
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


class ReportError(WarehouseError):
    """The dashboard cannot be written (no warehouse, a cube query failed, the output cannot be written)."""


@dataclass(frozen=True)
class Headline:
    label: str
    cube: str
    measure: str
    period_level: str
    fmt: str


HEADLINES = (
    Headline("Leads", "pipeline", "leads", "date.month", "integer"),
    Headline("Opportunities created", "pipeline", "opportunities_created", "date.month", "integer"),
    Headline("Deals won", "pipeline", "won", "close_date.month", "integer"),
    Headline("Won amount", "pipeline", "won_amount", "close_date.month", "currency"),
    Headline("Win rate", "pipeline", "win_rate", "close_date.month", "percent"),
    Headline("First-response SLA attainment", "service", "sla_attainment", "date.month", "percent"),
    Headline("Cases", "service", "cases", "date.month", "integer"),
    Headline("CSAT", "service", "csat", "date.month", "percent"),
)


def plain(value: Any) -> Any:
    """A JSON value for a cube cell: decimals as floats, dates as ISO text, NaN as null."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def query_payload(query: Query) -> dict[str, Any]:
    """The ``POST /query`` body that asks the same question."""
    payload: dict[str, Any] = {
        "cube": query.cube,
        "measures": [m if isinstance(m, str) else m.alias for m in query.measures],
        "rows": list(query.rows),
        "columns": list(query.columns),
        "filters": [
            {"level": f.level, "op": f.op, "values": [plain(v) for v in f.values]} for f in query.filters
        ],
        "order": [{"field": o.field, "descending": o.descending} for o in query.order],
        "totals": query.totals,
    }
    if query.limit is not None:
        payload["limit"] = query.limit
    return payload


class CubeReader:
    """Runs the dashboard's cube queries on one read-only connection and keeps every answer for the JSON block."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.answers: dict[str, dict[str, Any]] = {}

    def table(self, key: str, query: Query) -> pa.Table:
        """The answer as Arrow, recorded without its rows (for answers too large to embed)."""
        started = time.perf_counter()
        try:
            table = run_query(self.con, query)
        except CubeError as exc:
            raise ReportError(f"dashboard query {key!r} on cube {query.cube}: {exc}") from None
        self.answers[key] = {
            "query": query_payload(query),
            "columns": table.column_names,
            "row_count": table.num_rows,
            "seconds": round(time.perf_counter() - started, 3),
        }
        return table

    def rows(self, key: str, query: Query) -> list[dict[str, Any]]:
        started = time.perf_counter()
        table = self.table(key, query)
        records = [{name: plain(v) for name, v in record.items()} for record in table.to_pylist()]
        self.answers[key]["rows"] = records
        self.answers[key]["seconds"] = round(time.perf_counter() - started, 3)
        return records


# ------------------------------------------------------------------------------------------ sections


def freshness(reader: CubeReader) -> dict[str, Any]:
    """The latest day with leads and with interactions: how recent the data is, from the cubes."""
    latest: dict[str, str | None] = {}
    for key, cube, measure in (
        ("latest_lead", "pipeline", "leads"),
        ("latest_interaction", "service", "interactions"),
    ):
        rows = reader.rows(
            key, Query(cube, (measure,), rows=("date.day",), order=(OrderBy("date.day", True),), limit=1)
        )
        latest[key] = rows[0]["date.day"] if rows else None
    days = [d for d in latest.values() if d]
    return {**latest, "data_until": max(days) if days else None}


def reporting_month(data_until: str | None, months: list[str]) -> str | None:
    """The latest complete month: the month of the last data day if that day ends it, else the month before."""
    if not months:
        return None
    if data_until is None:
        return months[-1]
    last = date.fromisoformat(data_until)
    complete = last.replace(day=1)
    if last.day != monthrange(last.year, last.month)[1]:
        complete = (complete - timedelta(days=1)).replace(day=1)
    candidates = [m for m in months if m <= complete.isoformat()]
    return candidates[-1] if candidates else months[-1]


def headlines(reader: CubeReader, data_until: str | None) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], list[Headline]] = {}
    for h in HEADLINES:
        grouped.setdefault((h.cube, h.period_level), []).append(h)
    out: list[dict[str, Any]] = []
    for (cube, level), items in grouped.items():
        measures = tuple(m for h in items for m in (h.measure, f"{h.measure}@previous_period"))
        rows = reader.rows(f"headlines_{cube}_{level.split('.')[0]}", Query(cube, measures, rows=(level,)))
        rows = [r for r in rows if r[level] is not None]
        month = reporting_month(data_until, [r[level] for r in rows])
        row = next((r for r in rows if r[level] == month), None)
        for h in items:
            current = row[h.measure] if row else None
            previous = row[f"{h.measure}@previous_period"] if row else None
            out.append(
                {
                    "label": h.label,
                    "cube": cube,
                    "measure": h.measure,
                    "level": level,
                    "period": month,
                    "value": current,
                    "previous": previous,
                    "change": change(current, previous, h.fmt),
                    "format": h.fmt,
                }
            )
    order = [h.label for h in HEADLINES]
    return sorted(out, key=lambda item: order.index(item["label"]))


def change(current: float | None, previous: float | None, fmt: str) -> float | None:
    """Percentage points for a rate, relative change otherwise; None when it cannot be told."""
    if current is None or previous is None:
        return None
    if fmt == "percent":
        return current - previous
    return None if previous == 0 else (current - previous) / previous


def funnel(reader: CubeReader) -> dict[str, Any]:
    measures = (
        "leads",
        "converted_leads",
        "opportunities_created",
        "won",
        "lead_to_opportunity_rate",
        "opportunity_to_won_rate",
        "win_rate",
    )
    rows = reader.rows(
        "funnel_by_source_group", Query("pipeline", measures, rows=("campaign.source_group",), totals=True)
    )
    total = next((r for r in rows if r["campaign.source_group__total"]), None)
    groups = [r for r in rows if not r["campaign.source_group__total"]]
    win_rate = reader.rows(
        "win_rate_by_month", Query("pipeline", ("won", "lost", "win_rate"), rows=("close_date.month",))
    )
    return {"total": total, "groups": groups, "win_rate": [r for r in win_rate if r["close_date.month"]]}


def retention(reader: CubeReader) -> dict[str, Any]:
    rows = reader.rows(
        "retention_heatmap",
        Query(
            "retention",
            ("retention_rate",),
            rows=("cohort.month",),
            columns=("age.months_since_acquisition",),
        ),
    )
    ages = sorted((c for c in (rows[0] if rows else {}) if c != "cohort.month"), key=_age_key)
    cohorts = [r["cohort.month"] for r in rows]
    # A censored cell (cohort not that old yet) is null: blank in the heatmap, never 0.
    z = [[r.get(a) for a in ages] for r in rows]
    return {"cohorts": cohorts, "ages": ages, "z": z}


def _age_key(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def service(reader: CubeReader, settings: Settings) -> dict[str, Any]:
    measures = (
        "first_responses",
        "first_response_business_seconds_median",
        "first_response_business_seconds_p90",
        "sla_attainment",
    )
    rows = reader.rows("response_by_channel", Query("service", measures, rows=("channel.channel",)))
    channels = [r for r in rows if r["first_responses"] and r["channel.channel"] is not None]
    targets = {
        r["channel.channel"]: settings.sla.first_response_seconds.get(
            r["channel.channel"], settings.sla.default_first_response_seconds
        )
        for r in channels
    }
    over_time = reader.rows(
        "sla_by_month", Query("service", ("first_responses", "sla_attainment"), rows=("date.month",))
    )
    by_channel = reader.rows(
        "sla_by_month_and_channel",
        Query("service", ("sla_attainment",), rows=("date.month",), columns=("channel.channel",)),
    )
    return {"channels": channels, "targets": targets, "over_time": over_time, "by_channel": by_channel}


def lifetime_value(reader: CubeReader) -> dict[str, Any]:
    measures = ("customers", "revenue_to_date", "predicted_value_12m", "probability_alive_mean")
    segments = reader.rows("value_by_segment", Query("customer_value", measures, rows=("customer.segment",)))
    # One row per customer (a million at large scale): summarised in DuckDB, never turned into Python rows.
    customers = reader.table("value_by_customer", Query("customer_value", measures, rows=CUSTOMER_GRAIN))
    return {
        "segments": segments,
        "probability_alive": probability_histogram(reader.con, customers),
        "at_risk": at_risk(reader.con, customers),
        "customers_merged": _scalar(
            reader.con, customers, 'select count(*) from customers where coalesce("customers", 0) > 1'
        ),
    }


def _over(
    con: duckdb.DuckDBPyConnection, customers: pa.Table, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    """Rows of ``sql`` run over the Arrow table ``customers`` (named ``customers`` in the SQL)."""
    cursor = con.cursor()
    try:
        cursor.register("customers", customers)
        result = cursor.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [{n: plain(v) for n, v in zip(names, row, strict=True)} for row in result.fetchall()]
    finally:
        cursor.close()


def _scalar(con: duckdb.DuckDBPyConnection, customers: pa.Table, sql: str) -> int:
    return int(next(iter(_over(con, customers, sql)[0].values())))


def probability_histogram(con: duckdb.DuckDBPyConnection, customers: pa.Table) -> dict[str, Any]:
    """Customers per tenth of probability alive (the top bucket includes 1.0)."""
    counts = [0] * PROBABILITY_BUCKETS
    unknown = 0
    for row in _over(
        con,
        customers,
        f"""select least(cast(floor(probability_alive_mean * {PROBABILITY_BUCKETS}) as integer),
                         {PROBABILITY_BUCKETS - 1}) as bucket,
                   cast(sum(coalesce("customers", 0)) as bigint) as n
            from customers group by all""",
    ):
        if row["bucket"] is None:
            unknown = int(row["n"])
        else:
            counts[row["bucket"]] = int(row["n"])
    labels = [
        f"{i / PROBABILITY_BUCKETS:.1f}-{(i + 1) / PROBABILITY_BUCKETS:.1f}"
        for i in range(PROBABILITY_BUCKETS)
    ]
    return {"buckets": labels, "customers": counts, "unknown": unknown}


def at_risk(con: duckdb.DuckDBPyConnection, customers: pa.Table) -> list[dict[str, Any]]:
    """High revenue to date and a low probability of still being active."""
    return _over(
        con,
        customers,
        f"""select * from customers
        where probability_alive_mean < ? and revenue_to_date is not null
        order by revenue_to_date desc, coalesce("customer.customer_key", '')
        limit {AT_RISK_COUNT}""",
        [AT_RISK_PROBABILITY],
    )


# ------------------------------------------------------------------------------------------ figures


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figures: dict[str, Any] = {}
    layout = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "height": 380}

    f = data["funnel"]
    if f["total"]:
        total = f["total"]
        # Won counts every opportunity, also those not from a lead, so each step shows the cube's own rate
        # rather than plotly's share of the previous bar.
        rates = (None, total["lead_to_opportunity_rate"], total["opportunity_to_won_rate"])
        fig = go.Figure(
            go.Funnel(
                y=[label for _, label in FUNNEL_STEPS],
                x=[total[m] or 0 for m, _ in FUNNEL_STEPS],
                text=[
                    f"{total[m] or 0:,}" + ("" if rate is None else f" ({rate:.1%} {basis})")
                    for (m, _), rate, basis in zip(
                        FUNNEL_STEPS, rates, ("", "of leads", "of opportunities"), strict=True
                    )
                ],
                textinfo="text",
            )
        )
        fig.update_layout(title="Conversion funnel, all sources", **layout)
        figures["funnel"] = fig
    groups = f["groups"]
    names = [g["campaign.source_group"] or "(none)" for g in groups]
    fig = go.Figure(
        [
            go.Bar(name="Lead → opportunity", x=names, y=[g["lead_to_opportunity_rate"] for g in groups]),
            go.Bar(name="Win rate (won / closed)", x=names, y=[g["win_rate"] for g in groups]),
        ]
    )
    fig.update_layout(
        title="Conversion rates by lead source group", barmode="group", yaxis_tickformat=".0%", **layout
    )
    figures["funnel_by_source"] = fig
    months = [r["close_date.month"] for r in f["win_rate"]]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(name="Won", x=months, y=[r["won"] for r in f["win_rate"]], secondary_y=False)
    fig.add_bar(name="Lost", x=months, y=[r["lost"] for r in f["win_rate"]], secondary_y=False)
    fig.add_scatter(
        name="Win rate",
        x=months,
        y=[r["win_rate"] for r in f["win_rate"]],
        mode="lines+markers",
        secondary_y=True,
    )
    fig.update_layout(title="Win rate over time (by close month)", barmode="stack", **layout)
    fig.update_yaxes(title_text="deals closed", secondary_y=False)
    fig.update_yaxes(title_text="win rate", tickformat=".0%", range=[0, 1], secondary_y=True)
    figures["win_rate"] = fig

    r = data["retention"]
    fig = go.Figure(
        go.Heatmap(
            z=r["z"],
            x=r["ages"],
            y=r["cohorts"],
            colorscale="Blues",
            zmin=0,
            zmax=1,
            hoverongaps=False,
            colorbar={"tickformat": ".0%"},
            hovertemplate="cohort %{y}<br>month %{x}<br>retention %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Cohort retention: active customers / cohort size (blank: cohort not that old yet)",
        xaxis_title="months since acquisition",
        yaxis={"title": "acquisition cohort", "autorange": "reversed", "type": "category"},
        **{**layout, "height": 520},
    )
    figures["retention"] = fig

    s = data["service"]
    channels = [c["channel.channel"] for c in s["channels"]]

    def minutes(values: list[float | None]) -> list[float | None]:
        return [None if v is None else v / 60 for v in values]

    fig = go.Figure(
        [
            go.Bar(
                name="median",
                x=channels,
                y=minutes([c["first_response_business_seconds_median"] for c in s["channels"]]),
            ),
            go.Bar(
                name="90th percentile",
                x=channels,
                y=minutes([c["first_response_business_seconds_p90"] for c in s["channels"]]),
            ),
            go.Scatter(
                name="SLA target",
                x=channels,
                y=minutes([s["targets"][c] for c in channels]),
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 40, "line": {"width": 3, "color": "crimson"}},
            ),
        ]
    )
    fig.update_layout(
        title="First response time per channel (business minutes, log scale) against the SLA target",
        barmode="group",
        yaxis={"type": "log", "title": "business minutes"},
        **layout,
    )
    figures["response_time"] = fig
    months = [row["date.month"] for row in s["over_time"]]
    traces = [
        go.Scatter(
            name="all channels",
            x=months,
            y=[row["sla_attainment"] for row in s["over_time"]],
            mode="lines+markers",
            line={"width": 3, "color": "black"},
        )
    ]
    for column in (c for c in (s["by_channel"][0] if s["by_channel"] else {}) if c != "date.month"):
        values = [row.get(column) for row in s["by_channel"]]
        if any(v is not None for v in values):
            traces.append(
                go.Scatter(
                    name=column, x=[row["date.month"] for row in s["by_channel"]], y=values, mode="lines"
                )
            )
    fig = go.Figure(traces)
    fig.update_layout(title="First-response SLA attainment by month", yaxis_tickformat=".0%", **layout)
    figures["sla_over_time"] = fig

    v = data["lifetime_value"]
    segments = [row["customer.segment"] or "(none)" for row in v["segments"]]
    fig = go.Figure(
        [
            go.Bar(name="Revenue to date", x=segments, y=[row["revenue_to_date"] for row in v["segments"]]),
            go.Bar(
                name="Predicted next 12 months",
                x=segments,
                y=[row["predicted_value_12m"] for row in v["segments"]],
            ),
        ]
    )
    fig.update_layout(title="Historical vs predicted 12-month value by segment", barmode="group", **layout)
    figures["value_by_segment"] = fig
    hist = v["probability_alive"]
    fig = go.Figure(go.Bar(x=hist["buckets"], y=hist["customers"], name="customers"))
    fig.update_layout(
        title="Probability alive (BG/NBD): customers per bucket",
        xaxis_title="probability the customer is still active",
        yaxis_title="customers",
        **layout,
    )
    figures["probability_alive"] = fig
    return figures


# ------------------------------------------------------------------------------------------ HTML


def _format(value: Any, fmt: str) -> str:
    if value is None:
        return "–"
    if fmt == "percent":
        return f"{value:.1%}"
    if fmt == "currency":
        return f"{value:,.0f}"
    return f"{value:,.0f}" if isinstance(value, int | float) else html.escape(str(value))


def _change_text(item: dict[str, Any]) -> tuple[str, str]:
    delta = item["change"]
    if delta is None:
        return "no previous period", "flat"
    cls = "up" if delta > 0 else "down" if delta < 0 else "flat"
    if item["format"] == "percent":
        return f"{delta * 100:+.1f} pts vs previous month", cls
    return f"{delta:+.1%} vs previous month", cls


def _headline_cards(items: list[dict[str, Any]], currency: str) -> str:
    cards = []
    for item in items:
        text, cls = _change_text(item)
        unit = f" {currency}" if item["format"] == "currency" else ""
        cards.append(
            f'<div class="card" data-measure="{html.escape(item["measure"])}">'
            f'<div class="label">{html.escape(item["label"])}</div>'
            f'<div class="value">{_format(item["value"], item["format"])}{unit}</div>'
            f'<div class="change {cls}">{html.escape(text)}</div>'
            f'<div class="period">{html.escape(str(item["period"] or ""))[:7]}</div></div>'
        )
    return "\n".join(cards)


def _at_risk_table(rows: list[dict[str, Any]], currency: str) -> str:
    body = "\n".join(
        "<tr>"
        f"<td>{html.escape(str(r['customer.customer_key']))}</td><td>{html.escape(str(r['customer.segment'] or ''))}</td>"
        f"<td>{html.escape(str(r['customer.country'] or ''))}</td>"
        f"<td class=num>{_format(r['revenue_to_date'], 'currency')}</td>"
        f"<td class=num>{_format(r['predicted_value_12m'], 'currency')}</td>"
        f"<td class=num>{_format(r['probability_alive_mean'], 'percent')}</td></tr>"
        for r in rows
    )
    return (
        '<table id="at-risk"><thead><tr><th>customer key</th><th>segment</th><th>country</th>'
        f"<th>revenue to date ({currency})</th><th>predicted 12 months ({currency})</th>"
        f"<th>probability alive</th></tr></thead><tbody>{body}</tbody></table>"
    )


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header .meta{font-size:13px;opacity:.8;margin-top:4px}
main{padding:16px 28px;max-width:1400px;margin:auto}
h2{font-size:18px;margin:28px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
.card .label{font-size:13px;color:#556}.card .value{font-size:24px;font-weight:600;margin:4px 0}
.card .change{font-size:13px}.up{color:#16794a}.down{color:#b3261e}.flat{color:#667}
.card .period{font-size:11px;color:#889}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.chart{background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002;padding:4px;min-width:0;overflow:hidden}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
th,td{padding:6px 10px;border-bottom:1px solid #e3e5ea;text-align:left}td.num{text-align:right}
.note{font-size:12px;color:#667}
"""


def render_html(data: dict[str, Any], currency: str) -> str:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    charts = {
        key: pio.to_html(
            fig, include_plotlyjs=False, full_html=False, div_id=f"chart-{key}", config=PLOTLY_CONFIG
        )
        for key, fig in _figures(data).items()
    }

    def chart(key: str) -> str:
        return f'<div class="chart">{charts[key]}</div>' if key in charts else ""

    meta = data["meta"]
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    merged = data["lifetime_value"]["customers_merged"]
    merged_note = (
        f" {merged} customer(s) share a row with another and are binned at their group's mean."
        if merged
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>crmwh dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>CRM warehouse dashboard</h1>
<div class="meta" id="meta">warehouse built {html.escape(meta["built_at"] or "unknown")} ·
data until {html.escape(meta["data_until"] or "unknown")} · report generated {html.escape(meta["generated_at"])} ·
amounts in {html.escape(currency)}</div></header>
<main>
<h2>Headlines (latest complete month vs the month before)</h2>
<div class="cards" id="headlines">{_headline_cards(data["headlines"], currency)}</div>
<h2>Sales funnel</h2>
<div class="grid">{chart("funnel")}{chart("funnel_by_source")}</div>
{chart("win_rate")}
<h2>Retention</h2>
{chart("retention")}
<h2>Service</h2>
<div class="grid">{chart("response_time")}{chart("sla_over_time")}</div>
<h2>Customer lifetime value</h2>
<div class="grid">{chart("value_by_segment")}{chart("probability_alive")}</div>
<h2>Top customers at risk (probability alive &lt; {AT_RISK_PROBABILITY:.0%}, by revenue to date)</h2>
{_at_risk_table(data["lifetime_value"]["at_risk"], currency)}
<p class="note">Every number is a cube query (crmwh query); the queries and their answers are embedded in this
file as JSON (element #{DATA_ELEMENT_ID}).{html.escape(merged_note)}</p>
</main>
<script type="application/json" id="{DATA_ELEMENT_ID}">{payload}</script>
</body></html>
"""


# ------------------------------------------------------------------------------------------ entry points


def collect(con: duckdb.DuckDBPyConnection, settings: Settings, built_at: str | None) -> dict[str, Any]:
    """Run every dashboard query; the chart data plus each query and its answer."""
    reader = CubeReader(con)
    fresh = freshness(reader)
    data: dict[str, Any] = {
        "headlines": headlines(reader, fresh["data_until"]),
        "funnel": funnel(reader),
        "retention": retention(reader),
        "service": service(reader, settings),
        "lifetime_value": lifetime_value(reader),
    }
    data["meta"] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "built_at": built_at,
        "currency": settings.reporting.currency,
        **fresh,
    }
    data["queries"] = reader.answers
    return data


def build_report(settings: Settings, out_path: Path, warehouse_path: Path | None = None) -> Path:
    """Write the dashboard of the warehouse (default: the configured one) to ``out_path``; returns its path."""
    warehouse = Path(warehouse_path) if warehouse_path else settings.warehouse_path
    if not warehouse.exists():
        raise ReportError(f"warehouse {warehouse} does not exist; build it first (crmwh build)")
    built_at = datetime.fromtimestamp(warehouse.stat().st_mtime, UTC).isoformat(timespec="seconds")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open warehouse {warehouse} read-only: {exc}") from None
    try:
        data = collect(con, settings, built_at)
    finally:
        con.close()
    document = render_html(data, settings.reporting.currency)
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        partial.write_text(document, encoding="utf-8")
        partial.replace(out)
    except OSError as exc:
        raise ReportError(f"cannot write the dashboard to {out}: {exc.strerror or exc}") from None
    return out


def default_report_path(settings: Settings) -> Path:
    return settings.warehouse_path.parent / DEFAULT_REPORT_NAME


def register(app: typer.Typer) -> None:
    """Add ``crmwh report`` to ``app``."""

    @app.command("report")
    def report_command(
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Where to write the HTML file (default: crmwh-dashboard.html next to the warehouse).",
            ),
        ] = None,
        warehouse: Annotated[
            Path | None, typer.Option("--warehouse", help="Warehouse file (default: configured).")
        ] = None,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Write the dashboard: one self-contained HTML file (works offline) with every chart from the cubes."""
        from warehouse.config import load_settings

        settings = load_settings(config)
        started = time.perf_counter()
        path = build_report(settings, out or default_report_path(settings), warehouse)
        size_kb = path.stat().st_size / 1024
        typer.echo(
            f"dashboard written to {path} ({size_kb:,.0f} KB in {time.perf_counter() - started:.1f} s)"
        )
