"""Generic sources: billing orders (B2C purchases, buy-till-you-die) and contact-center messages."""

from __future__ import annotations

import numpy as np
import polars as pl

from warehouse.generate import dirt
from warehouse.generate.population import Population, pick, stream
from warehouse.generate.salesforce import PREFIX
from warehouse.generate.slots import explode_slots, repeat_index
from warehouse.generate.timeline import DAY, HOUR, NULL, Timeline, reply_moments
from warehouse.generate.writers import Extract, label, money, sf_id, sort_versions

FX_FROM_USD = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.36, "AUD": 1.52}
SALES_CHANNELS = ("web", "mobile_app", "marketplace", "phone", "store")
MAX_REPEATS = 80


def orders_extract(seed: int, pop: Population, timeline: Timeline, dirt_rate: float) -> Extract:
    orders = _orders(stream(seed, "billing.orders"), pop, timeline, dirt_rate)
    return Extract("billing", "orders", "csv", orders, _render_order, "order_id")


def messages_extract(
    seed: int, pop: Population, timeline: Timeline, dirt_rate: float, case_threads: pl.DataFrame
) -> Extract:
    messages = _messages(stream(seed, "cc.messages"), pop, timeline, dirt_rate, case_threads)
    return Extract("contact_center", "messages", "jsonl", messages, _render_message)


def lookup(keys: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """Vectorised dict lookup for a small table of string keys."""
    names = np.asarray(list(table), dtype=object)
    values = np.asarray(list(table.values()), dtype=float)
    order = np.argsort(names)
    return values[order][np.searchsorted(names[order], keys)]


def cohort_quality(rng: np.random.Generator, acquired: np.ndarray) -> np.ndarray:
    """Customers acquired in some months are worth more than others (holiday bargain hunters less)."""
    month_index = acquired.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    months, inverse = np.unique(month_index, return_inverse=True)
    per_month = np.exp(rng.normal(0, 0.25, len(months)))[inverse]
    holiday = np.isin(month_index % 12 + 1, [11, 12])
    return per_month * np.where(holiday, 0.7, 1.0)


def _orders(rng, pop: Population, timeline: Timeline, dirt_rate: float) -> pl.DataFrame:
    cons = pop.consumers
    n = cons.height
    acquired = cons["acquired"].to_numpy()
    quality = cohort_quality(rng, acquired)
    # Buy-till-you-die: Poisson purchases while alive (rate ~ Gamma), dropout after any purchase (p ~ Beta).
    rate = rng.gamma(0.9, 2.4 / 0.9 / 365.25, n) * quality
    dropout = np.clip(rng.beta(1.0, 3.2, n) / np.sqrt(quality), 0.01, 0.99)
    repeats = np.minimum(rng.geometric(dropout) - 1, MAX_REPEATS)
    parent, rank = repeat_index(repeats + 1)
    gaps = np.where(rank == 0, 0.0, rng.exponential(1.0, len(parent)) / rate[parent])
    offsets = np.cumsum(gaps)
    offsets -= np.repeat(offsets[np.cumsum(repeats + 1) - repeats - 1], repeats + 1)
    # Purchases run on a seasonal clock: equal steps of warped time are busier in Q4.
    cdf = timeline.cdf["b2c"]
    scale = cdf[-1] / timeline.n_days
    start_day = (acquired - timeline.origin) / DAY
    start_warp = np.interp(start_day, np.arange(len(cdf)), cdf) / scale
    warp = start_warp[parent] + offsets
    day_pos = np.interp(warp * scale, cdf, np.arange(len(cdf)))
    day_idx = np.floor(day_pos).astype(np.int64)
    moment = np.where(
        rank == 0,
        acquired[parent],
        timeline.origin
        + day_idx * DAY
        + timeline.local_time_of_day(rng, day_idx.shape, "b2c")
        - timeline.utc_offset[np.clip(day_idx, 0, timeline.n_days - 1)],
    )
    keep = (moment <= timeline.horizon_end) & ((rank == 0) | (moment > acquired[parent]))
    parent, rank, moment = parent[keep], rank[keep], moment[keep]
    m = len(parent)
    # Gamma-Gamma spend: a customer-level mean, order values scattered around it.
    nu = rng.gamma(3.5, 1 / 36.0, n)
    amount_usd = rng.gamma(6.0, 1.0 / nu[parent])
    currency = cons["currency"].to_numpy()[parent]
    fx = lookup(currency, FX_FROM_USD)
    amount = np.round(amount_usd * fx, 2)
    cost = np.round(amount * rng.uniform(0.45, 0.7, m), 2)
    outcome = rng.choice(3, m, p=[0.93, 0.03, 0.04])  # completed, cancelled, refunded
    settled = moment + (rng.uniform(0.3, 3, m) * DAY).astype(np.int64)
    refunded = settled + (rng.uniform(5, 30, m) * DAY).astype(np.int64)
    frame = pl.DataFrame(
        {
            "_rec": np.arange(m),
            "consumer_idx": cons["consumer_idx"].to_numpy()[parent],
            "moment": moment,
            "amount": amount,
            "cost": cost,
            "currency": currency,
            "channel": pick(rng, SALES_CHANNELS, m, p=np.array([0.55, 0.25, 0.1, 0.05, 0.05])),
            "items": 1 + rng.poisson(0.8, m),
        }
    ).join(
        cons.select(
            "consumer_idx",
            "email",
            "first_name",
            "last_name",
            "phone_nsn",
            "dial",
            "trunk_zero",
            "country",
            "country_name",
            "country_alpha3",
        ),
        on="consumer_idx",
        how="left",
        maintain_order="left",
    )
    frame = dirt.emails(frame, "email", rng, dirt_rate)
    frame = dirt.phones(frame, "phone", "e164", rng, dirt_rate)
    frame = dirt.countries(frame, "country_text", "country", rng, dirt_rate)
    frame = dirt.amounts(frame, "amount", rng, dirt_rate)
    frame = dirt.order_dates(frame, "order_date", "moment", rng, dirt_rate)
    times = np.stack([moment, settled, np.where(outcome == 2, refunded, NULL)], 1)
    status = np.tile(np.array(["pending", "completed", "refunded"], dtype=object), (m, 1))
    status[:, 1] = np.where(outcome == 1, "cancelled", "completed")
    return sort_versions(explode_slots(frame, times, {"status": status}))


def _render_order(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        pl.concat_str([pl.lit("ORD-"), pl.col("_rec").cast(pl.String).str.zfill(9)]).alias("order_id"),
        pl.concat_str([pl.lit("CUS-"), pl.col("consumer_idx").cast(pl.String).str.zfill(8)]).alias(
            "customer_id"
        ),
        pl.col("email").alias("customer_email"),
        pl.col("phone").alias("customer_phone"),
        pl.concat_str(["first_name", "last_name"], separator=" ").alias("customer_name"),
        pl.col("country_text").alias("country"),
        pl.col("order_date"),
        pl.col("status"),
        pl.col("amount"),
        money("cost").alias("cost"),
        pl.col("currency"),
        pl.col("channel").alias("sales_channel"),
        pl.col("items").alias("item_count"),
        pl.from_epoch("_ts", time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("updated_at"),
    )


CHANNELS = ("chat", "email", "sms", "social", "web_form", "whatsapp")
CHANNEL_REPLY_SECONDS = np.array([90, 4 * HOUR, 20 * 60, HOUR, 3 * HOUR, 20 * 60])
CUSTOMER_PAUSE_SECONDS = np.array([120, 8 * HOUR, 30 * 60, 2 * HOUR, 10 * HOUR, 30 * 60])
INBOUND_TEXT = (
    "Hi, where is my order?",
    "I was charged twice for my order.",
    "How do I return an item?",
    "Can I change my delivery address?",
    "The app keeps crashing when I pay.",
    "Thanks, that worked!",
)
OUTBOUND_TEXT = (
    "Thanks for reaching out, let me check that for you.",
    "I've issued the refund, it takes 3-5 days.",
    "Your parcel is on its way.",
    "Could you send me your order number?",
    "Glad I could help!",
)
MAX_EXCHANGES = 5


def _messages(rng, pop: Population, timeline: Timeline, dirt_rate: float, case_threads: pl.DataFrame):
    cons = pop.consumers
    acquired = cons["acquired"].to_numpy()
    years = np.maximum(timeline.horizon_end - acquired, 0) / (365.25 * DAY)
    parent, _ = repeat_index(rng.poisson(0.4 + 1.5 * years))
    n_cons = len(parent)
    low, high = acquired[parent] - 3 * DAY, np.full(n_cons, timeline.horizon_end)
    channel_cons = rng.choice(5, n_cons, p=[0.35, 0.25, 0.15, 0.1, 0.15])
    # The chat widget shows "online" in business hours, so chats start then; other channels any time.
    start_cons = np.where(
        channel_cons == 0,
        timeline.sample(rng, low, high, "b2b"),
        timeline.sample(rng, low, high, "b2c"),
    )
    channel_cons = np.where(rng.random(n_cons) < dirt_rate, 5, channel_cons)
    agents = pop.owners.filter(pl.col("is_active") & (pl.col("role") == "support"))["owner_idx"].to_numpy()
    origin_channel = {"Email": 1, "Web": 4, "Chat": 0}
    channel_case = case_threads["origin"].replace_strict(origin_channel, return_dtype=pl.Int64).to_numpy()
    case_people = case_threads.with_columns(pl.col("mobile_nsn").cast(pl.String))
    cons_people = cons.select("email", "phone_nsn", "dial", "trunk_zero", "handle")[parent]
    people = pl.concat(
        [
            cons_people.with_columns(pl.col("phone_nsn").cast(pl.String)),
            case_people.select(
                "email",
                phone_nsn=pl.col("mobile_nsn"),
                dial=pl.col("dial"),
                trunk_zero=pl.lit(False),
                handle=pl.lit(None, dtype=pl.String),
            ),
        ],
        how="vertical_relaxed",
    )
    start = np.concatenate([start_cons, case_threads["_created"].to_numpy()])
    channel = np.concatenate([channel_cons, channel_case])
    agent = np.concatenate([rng.choice(agents, n_cons), case_threads["owner_idx"].to_numpy()])
    case_rec = np.concatenate([np.full(n_cons, -1), case_threads["_rec"].to_numpy()])
    fixed_first_reply = np.concatenate([np.full(n_cons, NULL), case_threads["first_response"].to_numpy()])
    t = len(start)
    exchanges = np.minimum(1 + rng.poisson(np.where(channel == 0, 1.2, 0.6)), MAX_EXCHANGES)
    unanswered_last = rng.random(t) < 0.1
    inbound = np.full((t, MAX_EXCHANGES), NULL, dtype=np.int64)
    outbound = np.full((t, MAX_EXCHANGES), NULL, dtype=np.int64)
    clock = start.astype(np.int64)
    for x in range(MAX_EXCHANGES):
        active = x < exchanges
        inbound[:, x] = np.where(active, clock, NULL)
        reply = reply_moments(timeline, rng, clock, CHANNEL_REPLY_SECONDS[channel], agent)
        if x == 0:
            reply = np.where(fixed_first_reply >= 0, np.maximum(fixed_first_reply, clock + 1), reply)
        last = x == exchanges - 1
        answered = active & ~(last & unanswered_last & (case_rec < 0))
        outbound[:, x] = np.where(answered, reply, NULL)
        pause = (rng.exponential(1.0, t) * CUSTOMER_PAUSE_SECONDS[channel]).astype(np.int64) + 30
        clock = np.where(answered, reply, clock) + pause
    # Interleave: inbound_0, outbound_0, inbound_1, ...; message numbers follow thread then time.
    times = np.empty((t, 2 * MAX_EXCHANGES), dtype=np.int64)
    times[:, 0::2], times[:, 1::2] = inbound, outbound
    rows, slot = np.nonzero(times >= 0)
    moments = times[rows, slot]
    order = np.lexsort((slot, rows))
    rows, slot, moments = rows[order], slot[order], moments[order]
    m = len(rows)
    outbound_msg = (slot % 2) == 1
    body_code = np.where(
        outbound_msg,
        len(INBOUND_TEXT) + rng.integers(0, len(OUTBOUND_TEXT), m),
        rng.integers(0, len(INBOUND_TEXT), m),
    )
    frame = people[rows].with_columns(
        _rec=pl.Series(np.arange(m)),
        _ts=pl.Series(moments),
        thread=pl.Series(rows),
        channel=label(pl.Series(channel[rows]), CHANNELS),
        direction=pl.when(pl.Series(outbound_msg)).then(pl.lit("outbound")).otherwise(pl.lit("inbound")),
        agent=pl.Series(np.where(outbound_msg, agent[rows], -1)),
        case_rec=pl.Series(case_rec[rows]),
        body=label(pl.Series(body_code), INBOUND_TEXT + OUTBOUND_TEXT),
    )
    del people
    frame = dirt.capitalise_some(frame, "email", rng, 0.1)
    frame = dirt.emails(frame, "email", rng, dirt_rate)
    frame = dirt.phones(frame, "phone", "e164", rng, dirt_rate)
    frame = dirt.free_text(frame, "body", rng, dirt_rate)
    ch = pl.col("channel")
    frame = frame.with_columns(
        email=pl.when(ch.is_in(["chat", "email", "web_form"])).then(pl.col("email")),
        phone=pl.when(ch.is_in(["sms", "whatsapp", "web_form"])).then(pl.col("phone")),
        handle=pl.when(ch.is_in(["social", "chat"])).then(pl.col("handle")),
    )
    return sort_versions(frame)


def _render_message(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        pl.concat_str([pl.lit("msg_"), pl.col("_rec").cast(pl.String).str.zfill(10)]).alias("message_id"),
        pl.concat_str([pl.lit("th_"), pl.col("thread").cast(pl.String).str.zfill(9)]).alias("thread_id"),
        pl.col("channel"),
        pl.col("direction"),
        pl.from_epoch("_ts", time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("sent_at"),
        pl.col("email").alias("customer_email"),
        pl.col("phone").alias("customer_phone"),
        pl.col("handle").alias("customer_handle"),
        sf_id(PREFIX["User"], "agent").alias("agent_id"),
        sf_id(PREFIX["Case"], "case_rec").alias("case_id"),
        pl.col("body"),
    )
