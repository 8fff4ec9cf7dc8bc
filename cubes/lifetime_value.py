"""Predicted customer lifetime value: RFM summary of ``marts.fct_orders`` (DuckDB SQL), BG/NBD and
Gamma-Gamma fits (see ``cubes.clv_models``), written to ``marts.customer_lifetime_value`` and appended
to ``marts.clv_model_fits`` in one transaction.

Conventions (Fader, Hardie & Lee 2005):
- a purchase occasion is all of a customer's orders on one calendar day, summed (refunds are negative
  and net against the purchases of the same day); a day whose total is <= 0 is not a purchase occasion;
- frequency x = occasions - 1 (repeat occasions); recency t_x = first to last occasion;
  tenure T = first occasion to the as-of date; both in the time unit ('day', or 'week' = 7 days);
- the Gamma-Gamma spend m_x = mean value of the repeat occasions (the first one excluded), fitted on
  customers with x >= 1 (m_x > 0 always holds because occasions are positive);
- orders dated after the as-of date are ignored; the as-of date defaults to the last order date;
- predicted value = expected purchases over the horizon x expected average spend, not discounted.

Fallbacks (column model_status; 'fitted' when both models apply to the customer):
- 'fallback:no_positive_purchase_occasions': the customer has orders but no day with a positive net
  total (only refunds or zero-value orders): probability_alive 0, expected purchases/spend/value 0.
- 'fallback:no_repeat_purchases': nobody in the data has a repeat occasion, so the BG/NBD purchase
  rate is not identifiable (its MLE is rate 0): probability_alive 1 (a BG/NBD customer without repeat
  purchases has shown no sign of dropping out), expected purchases 0, predicted value 0, expected
  spend = the mean value of all purchase occasions.
- 'fallback:spend_model_not_identifiable': fewer than two customers with repeat occasions, or all of
  them with the same mean repeat spend: the Gamma-Gamma likelihood is unbounded, so expected spend =
  the mean value of all purchase occasions for every customer.
- 'fallback:population_spend_undefined': the fitted Gamma-Gamma q <= 1 has no population mean, so
  customers without repeat occasions get the mean value of all purchase occasions.
An optimiser that does not converge (or stops on its search bound) keeps its estimate: the customers
stay 'fitted' and the row in clv_model_fits has converged = false and says why.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from cubes.clv_models import (
    BgNbdFit,
    GammaGammaFit,
    expected_average_spend,
    expected_purchases,
    fit_bg_nbd,
    fit_gamma_gamma,
    probability_alive,
)
from cubes.errors import CubeError

ORDERS_TABLE = "marts.fct_orders"
CLV_TABLE = "marts.customer_lifetime_value"
FITS_TABLE = "marts.clv_model_fits"
DAYS_PER_TIME_UNIT = {"day": 1, "week": 7}
REQUIRED_ORDER_COLUMNS = (
    "order_id",
    "customer_key",
    "order_date",
    "amount_reporting",
    "margin_reporting",
    "is_refund",
)
NOT_NULL_ORDER_COLUMNS = ("customer_key", "order_date", "amount_reporting", "is_refund")

STATUS_FITTED = "fitted"
STATUS_NO_OCCASIONS = "fallback:no_positive_purchase_occasions"
STATUS_NO_REPEAT = "fallback:no_repeat_purchases"
STATUS_SPEND_NOT_IDENTIFIABLE = "fallback:spend_model_not_identifiable"
STATUS_POPULATION_SPEND_UNDEFINED = "fallback:population_spend_undefined"


class LifetimeValueError(CubeError):
    """The customer-lifetime-value step cannot run on this warehouse (missing or unusable orders)."""


@dataclass(frozen=True)
class ClvFitResult:
    as_of_date: date
    time_unit: str
    horizon_days: int
    customer_count: int
    modelled_customer_count: int
    bg_nbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    status_counts: dict[str, int] = field(default_factory=dict)
    fit_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for run reports."""

        def describe(fit: BgNbdFit | GammaGammaFit | None) -> dict[str, Any] | None:
            if fit is None:
                return None
            return {
                "parameters": fit.parameters.as_dict(),
                "log_likelihood": fit.log_likelihood,
                "sample_size": fit.sample_size,
                "converged": fit.converged,
                "message": fit.message,
            }

        return {
            "as_of_date": self.as_of_date.isoformat(),
            "time_unit": self.time_unit,
            "horizon_days": self.horizon_days,
            "customer_count": self.customer_count,
            "modelled_customer_count": self.modelled_customer_count,
            "bg_nbd": describe(self.bg_nbd),
            "gamma_gamma": describe(self.gamma_gamma),
            "status_counts": dict(self.status_counts),
            "fit_ids": list(self.fit_ids),
        }


_SUMMARY_SQL = """
with orders as (
    select customer_key, order_date, amount_reporting, margin_reporting, is_refund
    from marts.fct_orders
    where order_date <= $as_of
),
history as (
    select
        customer_key,
        coalesce(min(order_date) filter (where not is_refund), min(order_date)) as first_order_date,
        coalesce(max(order_date) filter (where not is_refund), max(order_date)) as last_order_date,
        count(*) filter (where not is_refund) as order_count,
        sum(amount_reporting) as revenue_to_date_reporting,
        sum(margin_reporting) as margin_to_date_reporting
    from orders
    group by customer_key
),
purchase_days as (
    select customer_key, order_date, sum(amount_reporting) as occasion_value
    from orders
    group by customer_key, order_date
    having sum(amount_reporting) > 0
),
occasions as (
    select
        customer_key,
        count(*) as purchase_occasions,
        min(order_date) as first_occasion_date,
        max(order_date) as last_occasion_date,
        sum(occasion_value) as occasions_value,
        arg_min(occasion_value, order_date) as first_occasion_value
    from purchase_days
    group by customer_key
)
select
    h.customer_key,
    $as_of::date as as_of_date,
    h.first_order_date,
    h.last_order_date,
    h.order_count::bigint as order_count,
    h.revenue_to_date_reporting::decimal(18, 2) as revenue_to_date_reporting,
    h.margin_to_date_reporting::decimal(18, 2) as margin_to_date_reporting,
    case when h.order_count > 0
        then round(h.revenue_to_date_reporting / h.order_count, 2)::decimal(18, 2)
    end as average_order_value_reporting,
    coalesce(o.purchase_occasions, 0)::bigint as purchase_occasions,
    o.first_occasion_date,
    o.last_occasion_date,
    greatest(coalesce(o.purchase_occasions, 0) - 1, 0)::bigint as frequency,
    coalesce(date_diff('day', o.first_occasion_date, o.last_occasion_date), 0)::double
        / $unit_days as recency,
    date_diff('day', coalesce(o.first_occasion_date, h.first_order_date), $as_of::date)::double
        / $unit_days as tenure,
    coalesce(o.occasions_value, 0)::double as occasions_value_reporting,
    case when o.purchase_occasions > 1
        then (o.occasions_value - o.first_occasion_value)::double / (o.purchase_occasions - 1)
    end as mean_repeat_occasion_value_reporting
from history as h
left join occasions as o using (customer_key)
order by h.customer_key
"""


def _check_orders_table(con: duckdb.DuckDBPyConnection) -> None:
    columns = {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_orders'"
        ).fetchall()
    }
    if not columns:
        raise LifetimeValueError(
            f"{ORDERS_TABLE} does not exist in this warehouse: build the dbt models first (crmwh build)"
        )
    missing = [c for c in REQUIRED_ORDER_COLUMNS if c not in columns]
    if missing:
        raise LifetimeValueError(
            f"{ORDERS_TABLE} lacks column(s) {', '.join(missing)} needed for lifetime value"
        )


def _resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: date | None) -> date:
    latest, first = con.execute(f"select max(order_date), min(order_date) from {ORDERS_TABLE}").fetchall()[0]
    if latest is None:
        raise LifetimeValueError(
            f"{ORDERS_TABLE} has no orders: there is nothing to compute customer lifetime value from"
        )
    if as_of is None:
        return latest
    if as_of < first:
        raise LifetimeValueError(
            f"as-of date {as_of} is before the first order ({first}): choose a later as-of date"
        )
    return as_of


def _check_no_nulls(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    for column in NOT_NULL_ORDER_COLUMNS:
        # order_date nulls are checked over every row: a row without a date cannot be placed before or after as-of.
        window = "" if column == "order_date" else "where order_date <= $as_of"
        count, examples = con.execute(
            f"select count(*), list(order_id order by order_id)[1:5] from "
            f"(select * from {ORDERS_TABLE} {window}) where {column} is null",
            {"as_of": as_of} if window else {},
        ).fetchall()[0]
        if count:
            raise LifetimeValueError(
                f"{ORDERS_TABLE}: {count} order(s) have no {column} (e.g. {', '.join(map(str, examples))}); "
                "fix them upstream before computing lifetime value"
            )


def summarise_orders(con: duckdb.DuckDBPyConnection, as_of: date | None, time_unit: str) -> pa.Table:
    """One row per customer with orders on or before ``as_of`` (default: the last order date): the
    history columns of customer_lifetime_value plus the RFM inputs of the models (see module docstring)."""
    if time_unit not in DAYS_PER_TIME_UNIT:
        raise LifetimeValueError(
            f"time unit {time_unit!r} is not supported: use one of {', '.join(DAYS_PER_TIME_UNIT)}"
        )
    _check_orders_table(con)
    resolved = _resolve_as_of(con, as_of)
    _check_no_nulls(con, resolved)
    return con.sql(
        _SUMMARY_SQL, params={"as_of": resolved, "unit_days": DAYS_PER_TIME_UNIT[time_unit]}
    ).to_arrow_table()


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)


@dataclass
class _Predictions:
    probability_alive: np.ndarray
    expected_purchases: np.ndarray
    expected_average_spend: np.ndarray
    status: np.ndarray
    bg_nbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    bg_nbd_note: str
    gamma_gamma_note: str


def _predict(summary: pa.Table, time_unit: str, horizon_days: int) -> _Predictions:
    count = summary.num_rows
    occasions = _column(summary, "purchase_occasions")
    x = _column(summary, "frequency")
    t_x = _column(summary, "recency")
    T = _column(summary, "tenure")
    m = np.nan_to_num(_column(summary, "mean_repeat_occasion_value_reporting"), nan=0.0)
    modelled = occasions > 0
    horizon = horizon_days / DAYS_PER_TIME_UNIT[time_unit]
    empirical_mean_spend = (
        float(_column(summary, "occasions_value_reporting").sum() / occasions.sum())
        if modelled.any()
        else 0.0
    )

    status = np.full(count, STATUS_FITTED, dtype=object)
    alive = np.zeros(count)
    purchases = np.zeros(count)
    spend = np.zeros(count)

    bg_fit: BgNbdFit | None = None
    if np.any(x[modelled] > 0):
        bg_fit = fit_bg_nbd(x[modelled], t_x[modelled], T[modelled])
        alive[modelled] = probability_alive(bg_fit.parameters, x[modelled], t_x[modelled], T[modelled])
        purchases[modelled] = expected_purchases(
            bg_fit.parameters, horizon, x[modelled], t_x[modelled], T[modelled]
        )
        bg_note = ""
    else:
        alive[modelled] = 1.0
        status[modelled] = STATUS_NO_REPEAT
        bg_note = (
            "not fitted: no customer has a repeat purchase occasion, the purchase rate is not identifiable"
        )

    gg_fit: GammaGammaFit | None = None
    repeaters = modelled & (x >= 1)
    if repeaters.sum() >= 2 and np.ptp(m[repeaters]) > 0:
        gg_fit = fit_gamma_gamma(x[repeaters], m[repeaters])
        population_mean = gg_fit.parameters.population_mean_spend
        spend[modelled] = expected_average_spend(
            gg_fit.parameters,
            x[modelled],
            m[modelled],
            empirical_mean_spend if population_mean is None else population_mean,
        )
        if population_mean is None:
            status[modelled & (x == 0) & (status == STATUS_FITTED)] = STATUS_POPULATION_SPEND_UNDEFINED
        gg_note = ""
    else:
        spend[modelled] = empirical_mean_spend
        status[modelled & (status == STATUS_FITTED)] = STATUS_SPEND_NOT_IDENTIFIABLE
        gg_note = (
            "not fitted: fewer than two customers with repeat purchase occasions, or all with the same "
            "mean repeat spend; the Gamma-Gamma likelihood is unbounded"
        )
    status[~modelled] = STATUS_NO_OCCASIONS

    for name, values in (("probability_alive", alive), ("expected_purchases", purchases), ("spend", spend)):
        bad = ~np.isfinite(values)
        if bad.any():
            keys = summary.column("customer_key").to_pylist()
            examples = ", ".join(str(keys[i]) for i in np.flatnonzero(bad)[:5])
            raise LifetimeValueError(
                f"the fitted models give a non-finite {name} for {int(bad.sum())} customer(s) (e.g. {examples}); "
                "try the other time unit or report the data that trigger it"
            )
    return _Predictions(alive, purchases, spend, status, bg_fit, gg_fit, bg_note, gg_note)


_CREATE_CLV_SQL = f"""
create or replace table {CLV_TABLE} (
    customer_key varchar primary key,
    as_of_date date not null,
    first_order_date date not null,
    last_order_date date not null,
    order_count bigint not null,
    purchase_occasions bigint not null,
    frequency bigint not null,
    recency double not null,
    tenure double not null,
    revenue_to_date_reporting decimal(18, 2) not null,
    margin_to_date_reporting decimal(18, 2),
    average_order_value_reporting decimal(18, 2),
    mean_repeat_occasion_value_reporting decimal(18, 2),
    probability_alive double not null,
    expected_purchases_12m double not null,
    expected_average_spend_reporting double not null,
    predicted_value_12m_reporting double not null,
    model_status varchar not null
)
"""

_INSERT_CLV_SQL = f"""
insert into {CLV_TABLE}
select
    customer_key, as_of_date, first_order_date, last_order_date, order_count, purchase_occasions,
    frequency, recency, tenure, revenue_to_date_reporting, margin_to_date_reporting,
    average_order_value_reporting, round(mean_repeat_occasion_value_reporting, 2),
    probability_alive, expected_purchases_12m, expected_average_spend_reporting,
    predicted_value_12m_reporting, model_status
from clv_frame
"""

_CREATE_FITS_SQL = f"""
create table if not exists {FITS_TABLE} (
    fit_id varchar primary key,
    model varchar not null,
    parameters varchar not null,
    log_likelihood double,
    sample_size bigint not null,
    as_of_date date not null,
    time_unit varchar not null,
    fitted_at timestamp not null,
    converged boolean not null,
    message varchar not null
)
"""


def _fit_row(
    model: str,
    fit: BgNbdFit | GammaGammaFit | None,
    note: str,
    sample_size: int,
    as_of: date,
    time_unit: str,
    fitted_at: datetime,
) -> tuple[object, ...]:
    fit_id = uuid.uuid4().hex
    if fit is None:
        return (fit_id, model, "{}", None, sample_size, as_of, time_unit, fitted_at, False, note)
    return (
        fit_id,
        model,
        json.dumps(fit.parameters.as_dict()),
        fit.log_likelihood,
        fit.sample_size,
        as_of,
        time_unit,
        fitted_at,
        fit.converged,
        fit.message,
    )


def fit_and_store(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: date | None = None,
    time_unit: str = "week",
    horizon_days: int = 365,
) -> ClvFitResult:
    """Fit BG/NBD and Gamma-Gamma on ``marts.fct_orders`` up to ``as_of``, replace
    ``marts.customer_lifetime_value`` and append both fits to ``marts.clv_model_fits`` atomically."""
    if horizon_days < 0:
        raise LifetimeValueError(f"horizon_days must be >= 0, got {horizon_days}")
    summary = summarise_orders(con, as_of, time_unit)
    resolved_as_of = summary.column("as_of_date")[0].as_py()
    predictions = _predict(summary, time_unit, horizon_days)

    value = predictions.expected_purchases * predictions.expected_average_spend
    frame = summary.append_column("probability_alive", pa.array(predictions.probability_alive))
    frame = frame.append_column("expected_purchases_12m", pa.array(predictions.expected_purchases))
    frame = frame.append_column(
        "expected_average_spend_reporting", pa.array(predictions.expected_average_spend)
    )
    frame = frame.append_column("predicted_value_12m_reporting", pa.array(value))
    frame = frame.append_column("model_status", pa.array(predictions.status.tolist(), type=pa.string()))

    modelled = int(np.sum(_column(summary, "purchase_occasions") > 0))
    repeaters = int(np.sum(_column(summary, "frequency") >= 1))
    fitted_at = datetime.now(UTC).replace(tzinfo=None)
    fit_rows = [
        _fit_row(
            "bg_nbd",
            predictions.bg_nbd,
            predictions.bg_nbd_note,
            modelled,
            resolved_as_of,
            time_unit,
            fitted_at,
        ),
        _fit_row(
            "gamma_gamma",
            predictions.gamma_gamma,
            predictions.gamma_gamma_note,
            repeaters,
            resolved_as_of,
            time_unit,
            fitted_at,
        ),
    ]

    con.register("clv_frame", frame)
    try:
        con.begin()
        try:
            con.execute("create schema if not exists marts")
            con.execute(_CREATE_CLV_SQL)
            con.execute(_INSERT_CLV_SQL)
            con.execute(_CREATE_FITS_SQL)
            con.executemany(f"insert into {FITS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", fit_rows)
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise LifetimeValueError(f"could not write {CLV_TABLE} / {FITS_TABLE}: {exc}") from exc
    finally:
        con.unregister("clv_frame")

    return ClvFitResult(
        as_of_date=resolved_as_of,
        time_unit=time_unit,
        horizon_days=horizon_days,
        customer_count=summary.num_rows,
        modelled_customer_count=modelled,
        bg_nbd=predictions.bg_nbd,
        gamma_gamma=predictions.gamma_gamma,
        status_counts=dict(Counter(predictions.status.tolist())),
        fit_ids=tuple(str(row[0]) for row in fit_rows),
    )
