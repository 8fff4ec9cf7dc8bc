"""HubSpot: owners, companies, contacts (lifecycle funnel), deals with stage history, engagements,
tickets and contact merges, shaped as the v3 CRM API returns them (JSON Lines)."""

from __future__ import annotations

import numpy as np
import polars as pl

from warehouse.generate import dirt
from warehouse.generate.population import (
    FIRST_NAMES,
    LAST_NAMES,
    REGIONS,
    Population,
    country_table,
    draw_cities,
    draw_countries,
    draw_phone_numbers,
    pick,
    stream,
)  # fmt: skip
from warehouse.generate.salesforce import (
    CASE_SUBJECTS,
    SEGMENT_DEAL,
    SEGMENT_PACE,
    STAGE_DAYS,
    pick_person,
    stage_paths,
    support_lifecycle,
)  # fmt: skip
from warehouse.generate.slots import explode_slots, repeat_index
from warehouse.generate.timeline import DAY, HOUR, NULL, Timeline, reply_moments
from warehouse.generate.writers import Extract, label, money, sort_versions, ts

SOURCES = ("ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS", "DIRECT_TRAFFIC",
           "OFFLINE", "PAID_SOCIAL")  # fmt: skip
SOURCE_SHARE = np.array([0.25, 0.18, 0.12, 0.1, 0.08, 0.12, 0.07, 0.08])
SOURCE_CONVERSION = np.array([0.2, 0.12, 0.15, 0.08, 0.35, 0.22, 0.25, 0.07])
SOURCE_WIN = np.array([0.3, 0.22, 0.28, 0.15, 0.45, 0.3, 0.35, 0.14])
SOURCE_DETAIL = (
    "google",
    "google ads",
    "newsletter",
    "linkedin",
    "partner site",
    "",
    "trade show",
    "facebook ads",
)
DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
               "contractsent", "closedwon", "closedlost")  # fmt: skip
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
LEAD_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "ATTEMPTED_TO_CONTACT", "UNQUALIFIED")
TICKET_STAGE = ("1", "2", "3", "4", "3")  # New, Working, Escalated, Closed, Reopened -> pipeline stage ids

OWNER_OFFSET = 51_000_000
COMPANY_OFFSET = 5_000_000_000
CONTACT_OFFSET = 100_000
DEAL_OFFSET = 9_000_000_000
TICKET_OFFSET = 2_000_000_000
ENGAGEMENT_OFFSET = 30_000_000_000
MAX_I64 = np.iinfo(np.int64).max


def hid(offset: int, column: str) -> pl.Expr:
    c = pl.col(column)
    return pl.when(c >= 0).then((c + offset).cast(pl.String)).otherwise(None)


def _str(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


def _bool_text(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))


def _result_list(expr: pl.Expr, kind: str) -> pl.Expr:
    """v3 association block: {"results": [{"id": ..., "type": ...}]} (empty when no id)."""
    item = pl.struct(expr.alias("id"), pl.lit(kind).alias("type"))
    return pl.struct(
        pl.when(expr.is_not_null())
        .then(pl.concat_list(item))
        .otherwise(pl.concat_list(item).list.head(0))
        .alias("results")
    )


def _id_list(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_not_null()).then(pl.concat_list(expr)).otherwise(pl.concat_list(expr).list.head(0))


def build_hubspot(seed: int, pop: Population, timeline: Timeline, dirt_rate: float) -> list[Extract]:
    owners = _owners(pop)
    companies = pop.companies.filter(pl.col("in_hubspot"))
    deal_companies = companies.filter(~pl.col("in_salesforce"))
    deals, first_win, contact_source = _deals(
        stream(seed, "hs.deals"), deal_companies, pop, timeline, dirt_rate
    )
    company_versions = _companies(stream(seed, "hs.companies"), companies, pop, timeline, dirt_rate)
    contacts, merges = _contacts(
        stream(seed, "hs.contacts"), pop, timeline, dirt_rate, first_win, contact_source, deals
    )
    tickets, ticket_events = _tickets(
        stream(seed, "hs.tickets"), deal_companies, pop, timeline, first_win, dirt_rate
    )
    engagements = _engagements(
        stream(seed, "hs.engagements"), deals, companies, pop, timeline, ticket_events, dirt_rate
    )
    return [
        Extract("hubspot", "owners", "jsonl", owners, _render_owner),
        Extract("hubspot", "companies", "jsonl", company_versions, _render_company),
        Extract("hubspot", "contacts", "jsonl", contacts, _render_contact),
        Extract("hubspot", "deals", "jsonl", deals, _render_deal),
        Extract("hubspot", "engagements", "jsonl", engagements, _render_engagement),
        Extract("hubspot", "tickets", "jsonl", tickets, _render_ticket),
        Extract("hubspot", "contact_merges", "jsonl", merges, _render_merge),
    ]


def _owners(pop: Population) -> pl.DataFrame:
    return sort_versions(
        pop.owners.filter(pl.col("in_hubspot")).with_columns(_rec=pl.col("owner_idx"), _ts=pl.col("created"))
    )


def _render_owner(v: pl.DataFrame) -> pl.DataFrame:
    teams = sorted({"Customer Support", "Marketing", *(f"Sales {region}" for region in REGIONS)})
    team_id = pl.col("team_name").replace_strict(
        {t: str(3_000_001 + i) for i, t in enumerate(teams)}, default=None
    )
    return v.select(
        hid(OWNER_OFFSET, "owner_idx").alias("id"),
        pl.col("email"),
        pl.col("first_name").alias("firstName"),
        pl.col("last_name").alias("lastName"),
        ts("created").alias("createdAt"),
        ts("_ts").alias("updatedAt"),
        (~pl.col("is_active")).alias("archived"),
        pl.concat_list(
            pl.struct(team_id.alias("id"), pl.col("team_name").alias("name"), pl.lit(True).alias("primary"))
        ).alias("teams"),
    )


def _companies(rng, companies, pop, timeline, dirt_rate):
    frame = companies.with_columns(
        _rec=pl.col("company_idx"),
        industry_code=pl.col("industry").str.to_uppercase().str.replace_all(" ", "_"),
    )
    frame = dirt.phones(frame, "phone", "national", rng, dirt_rate)
    frame = dirt.countries(frame, "country_text", "country_name", rng, dirt_rate)
    created = frame["first_seen"].to_numpy()
    n = frame.height
    edits = np.sort(
        np.stack(
            [
                np.where(
                    rng.random(n) < p,
                    timeline.sample(rng, created + HOUR, np.full(n, timeline.horizon_end), "b2b"),
                    MAX_I64,
                )
                for p in (0.5, 0.25)
            ],
            1,
        ),
        axis=1,
    )
    archive = rng.random(n) < dirt_rate
    archived_at = np.where(
        archive, created + (rng.exponential(200, n) * DAY).astype(np.int64) + HOUR, MAX_I64
    )
    times = np.sort(np.concatenate([created[:, None], edits, archived_at[:, None]], 1), axis=1)
    archived = (times >= archived_at[:, None]) & (times < MAX_I64)
    times = np.where(times == MAX_I64, NULL, times)
    return sort_versions(explode_slots(frame, times, {"archived": archived}))


def _render_company(v: pl.DataFrame) -> pl.DataFrame:
    props = pl.struct(
        pl.col("name"),
        pl.col("domain"),
        pl.col("industry_code").alias("industry"),
        _str(pl.col("employees")).alias("numberofemployees"),
        money("annual_revenue").alias("annualrevenue"),
        pl.col("phone"),
        pl.col("city"),
        pl.col("country_text").alias("country"),
        hid(OWNER_OFFSET, "owner_idx").alias("hubspot_owner_id"),
        pl.lit(None, dtype=pl.String).alias("hs_merged_object_ids"),
        ts("first_seen").alias("createdate"),
        ts("_ts").alias("hs_lastmodifieddate"),
    )
    return v.select(
        hid(COMPANY_OFFSET, "company_idx").alias("id"),
        props.alias("properties"),
        ts("first_seen").alias("createdAt"),
        ts("_ts").alias("updatedAt"),
        pl.col("archived"),
    )


# --- deals ----------------------------------------------------------------------------------------------------------


def _deals(rng, companies, pop, timeline, dirt_rate):
    """Deals of the companies sold through HubSpot only; the first deal's source is the primary contact's."""
    n_total = pop.companies.height
    n = companies.height
    conv_p = SOURCE_SHARE * SOURCE_CONVERSION
    source = rng.choice(len(SOURCES), n, p=conv_p / conv_p.sum())
    contact_source = np.full(n_total, -1)
    contact_source[companies["company_idx"].to_numpy()] = source
    first_seen = companies["first_seen"].to_numpy()
    first_created = first_seen + (rng.exponential(20, n) * DAY).astype(np.int64) + HOUR
    years_left = np.maximum(timeline.horizon_end - first_created, 0) / (365.25 * DAY)
    parent, rank = repeat_index(1 + rng.poisson(0.5 * years_left))
    m = len(parent)
    first = rank == 0
    created = np.where(
        first,
        first_created[parent],
        timeline.sample(rng, first_created[parent] + 30 * DAY, np.full(m, timeline.horizon_end), "b2b"),
    )
    won = rng.random(m) < np.where(first, SOURCE_WIN[source[parent]], 0.55)
    segment = companies["segment"].to_numpy()[parent]
    pace = np.vectorize(SEGMENT_PACE.get)(segment).astype(float) * 0.8
    amount = np.round(
        np.vectorize(SEGMENT_DEAL.get)(segment).astype(float) * 0.7 * rng.lognormal(0, 0.5, m), -2
    )
    codes, times = stage_paths(rng, won, pace, created)
    planned = created + (STAGE_DAYS.sum() * pace * DAY).astype(np.int64)
    close = np.where(codes >= 5, times, planned[:, None])
    comp_idx = companies["company_idx"].to_numpy()[parent]
    contact = pick_person(rng, pop.people, comp_idx, created, n_total)
    archive = rng.random(m) < dirt_rate / 2
    archived_at = np.where(
        archive, times.max(axis=1) + (rng.exponential(60, m) * DAY).astype(np.int64) + HOUR, NULL
    )
    # The archival is one more version after the last stage.
    times = np.concatenate([times, archived_at[:, None]], 1)
    codes = np.concatenate([codes, codes.max(axis=1)[:, None]], 1)
    close = np.concatenate([close, close[np.arange(m), (codes[:, :-1] >= 0).sum(1) - 1][:, None]], 1)
    archived = np.zeros(times.shape, dtype=bool)
    archived[:, -1] = True
    n_stages = (codes[:, :-1] >= 0).sum(1)
    hist_values = pl.Series(np.asarray(DEAL_STAGES)).gather(
        pl.Series(np.where(codes[:, :-1] >= 0, codes[:, :-1], 0).ravel())
    )
    hist = (
        pl.DataFrame(
            {
                "deal": np.repeat(np.arange(m), 6),
                "value": hist_values,
                "t": times[:, :-1].ravel(),
                "used": (codes[:, :-1] >= 0).ravel(),
            }
        )
        .filter(pl.col("used"))
        .with_columns(ts("t").alias("timestamp"))
        .group_by("deal", maintain_order=True)
        .agg(
            pl.struct(pl.col("value"), pl.col("timestamp"), pl.lit("CRM_UI").alias("sourceType")).alias(
                "history"
            )
        )
    )
    base = pl.DataFrame(
        {
            "_rec": np.arange(m),
            "company_idx": comp_idx,
            "contact": contact,
            "name": companies["name"].to_numpy()[parent].astype(object)
            + np.where(first, " - New Business", " - Expansion").astype(object),
            "amount": amount,
            "currency": companies["currency"].to_numpy()[parent],
            "owner_idx": companies["owner_idx"].to_numpy()[parent],
            "source": np.where(first, np.asarray(SOURCES)[source[parent]], ""),
            "_created": created,
            "n_stages": n_stages,
            "closed_at": times[:, :-1].max(axis=1),
        }
    ).with_columns(history=hist["history"], source=pl.col("source").replace("", None))
    versions = explode_slots(base, times, {"stage": codes, "close": close, "archived": archived})
    versions = sort_versions(
        versions.with_columns(
            dealstage=label(pl.col("stage"), DEAL_STAGES),
            history=pl.col("history")
            .list.head(pl.min_horizontal(pl.col("_slot") + 1, pl.col("n_stages")))
            .list.reverse(),
        )
    )
    won_close = np.where(won, times[:, :-1].max(axis=1), MAX_I64)
    first_win = np.full(n_total, MAX_I64)
    np.minimum.at(first_win, comp_idx, won_close)
    return versions, np.where(first_win == MAX_I64, NULL, first_win), contact_source


def _render_deal(v: pl.DataFrame) -> pl.DataFrame:
    stage = pl.col("dealstage")
    props = pl.struct(
        pl.col("name").alias("dealname"),
        money("amount").alias("amount"),
        pl.col("currency").alias("deal_currency_code"),
        stage.alias("dealstage"),
        pl.lit("default").alias("pipeline"),
        ts("close").alias("closedate"),
        ts("_created").alias("createdate"),
        ts("_ts").alias("hs_lastmodifieddate"),
        hid(OWNER_OFFSET, "owner_idx").alias("hubspot_owner_id"),
        pl.col("source").alias("hs_analytics_source"),
        _bool_text(stage == "closedwon").alias("hs_is_closed_won"),
        _bool_text(stage.is_in(["closedwon", "closedlost"])).alias("hs_is_closed"),
    )
    return v.select(
        hid(DEAL_OFFSET, "_rec").alias("id"),
        props.alias("properties"),
        ts("_created").alias("createdAt"),
        ts("_ts").alias("updatedAt"),
        pl.col("archived"),
        pl.struct(pl.col("history").alias("dealstage")).alias("propertiesWithHistory"),
        pl.struct(
            _result_list(hid(COMPANY_OFFSET, "company_idx"), "deal_to_company").alias("companies"),
            _result_list(hid(CONTACT_OFFSET, "contact"), "deal_to_contact").alias("contacts"),
        ).alias("associations"),
    )


# --- contacts -------------------------------------------------------------------------------------------------------


def _contacts(rng, pop, timeline, dirt_rate, first_win, contact_source, deals):
    people = pop.people.filter(pl.col("in_hubspot"))
    n_b2b = people.height
    # B2B people: record numbers are person numbers; consumers and marketing leads follow.
    b2b_source = contact_source[people["company_idx"].to_numpy()]
    other_p = SOURCE_SHARE / SOURCE_SHARE.sum()
    b2b_source = np.where(
        people["is_primary"].to_numpy() & (b2b_source >= 0),
        b2b_source,
        rng.choice(len(SOURCES), n_b2b, p=other_p),
    )
    first_deal = deals.group_by("company_idx").agg(pl.col("_created").min().alias("deal_at"))
    b2b = people.join(first_deal, on="company_idx", how="left", maintain_order="left").with_columns(
        _rec=pl.col("person_idx"),
        company_ref=pl.col("company_idx"),
        company_name=pl.lit(None, dtype=pl.String),
        source_idx=pl.Series(b2b_source),
        created=pl.col("joined"),
        phone_nsn=pl.col("direct_nsn").cast(pl.String),
        mobile_nsn=pl.when(pl.col("has_mobile")).then(pl.col("mobile_nsn")),
    )
    win = first_win[b2b["company_idx"].to_numpy()]
    deal_at = b2b["deal_at"].fill_null(NULL).to_numpy()
    primary = b2b["is_primary"].to_numpy()
    created = b2b["created"].to_numpy()
    k = n_b2b
    stage_t = np.full((k, 6), NULL, dtype=np.int64)
    stage_t[:, 1] = created
    mql = created + (rng.exponential(10, k) * DAY).astype(np.int64) + HOUR
    sql = mql + (rng.exponential(10, k) * DAY).astype(np.int64) + HOUR
    has_deal = primary & (deal_at >= 0)
    stage_t[:, 2] = np.where(has_deal, np.minimum(mql, deal_at - 2), np.where(rng.random(k) < 0.4, mql, NULL))
    stage_t[:, 3] = np.where(has_deal, np.minimum(sql, deal_at - 1), NULL)
    stage_t[:, 3] = np.where(stage_t[:, 3] >= 0, np.maximum(stage_t[:, 3], stage_t[:, 2]), NULL)
    stage_t[:, 2] = np.where(stage_t[:, 2] >= 0, np.maximum(stage_t[:, 2], created), NULL)
    stage_t[:, 3] = np.where(stage_t[:, 3] >= 0, np.maximum(stage_t[:, 3], stage_t[:, 2]), NULL)
    stage_t[:, 4] = np.where(has_deal, np.maximum(deal_at, stage_t[:, 3]), NULL)
    stage_t[:, 5] = np.where(primary & (win >= 0), np.maximum(win, stage_t[:, 4]), NULL)
    # Consumers who signed up for the newsletter: subscribers, customers at their first order.
    cons = pop.consumers.filter(pl.col("in_hubspot"))
    c = cons.height
    c_created = cons["acquired"].to_numpy() - (rng.exponential(15, c) * DAY).astype(np.int64) - HOUR
    c_created = np.maximum(c_created, timeline.origin)
    c_stage = np.full((c, 6), NULL, dtype=np.int64)
    c_stage[:, 0] = np.minimum(c_created, cons["acquired"].to_numpy() - 1)
    c_stage[:, 5] = cons["acquired"].to_numpy()
    consumers = cons.with_columns(
        _rec=pl.col("consumer_idx") + 20_000_000,
        company_ref=pl.lit(-1),
        company_name=pl.lit(None, dtype=pl.String),
        source_idx=pl.Series(rng.choice(len(SOURCES), c, p=other_p)),
        created=pl.Series(c_stage[:, 0]),
        mobile_nsn=pl.col("phone_nsn"),
        phone_nsn=pl.lit(None, dtype=pl.String),
        owner_idx=pl.lit(-1),
        title=pl.lit(None, dtype=pl.String),
    )
    # Marketing leads that never turned into a company deal.
    n_leads = int(rng.poisson(1.6 * max(pop.companies.filter(pl.col("in_hubspot")).height, 1)))
    l_country = draw_countries(rng, n_leads, "b2b")
    l_created = timeline.sample(
        rng, np.full(n_leads, timeline.origin), np.full(n_leads, timeline.horizon_end), "b2b"
    )
    l_source = rng.choice(len(SOURCES), n_leads, p=other_p)
    l_stage = np.full((n_leads, 6), NULL, dtype=np.int64)
    l_stage[:, 1] = l_created
    l_mql = l_created + (rng.exponential(12, n_leads) * DAY).astype(np.int64) + HOUR
    l_stage[:, 2] = np.where(rng.random(n_leads) < SOURCE_CONVERSION[l_source] * 1.5, l_mql, NULL)
    l_stage[:, 3] = np.where(
        (l_stage[:, 2] >= 0) & (rng.random(n_leads) < 0.3),
        l_mql + (rng.exponential(9, n_leads) * DAY).astype(np.int64) + HOUR,
        NULL,
    )
    first = pick(rng, FIRST_NAMES, n_leads)
    last = pick(rng, LAST_NAMES, n_leads)
    sales = pop.owners.filter(pl.col("is_active") & (pl.col("role") == "sales"))["owner_idx"].to_numpy()
    leads = (
        pl.DataFrame(
            {
                "_rec": 40_000_000 + np.arange(n_leads),
                "first_name": first,
                "last_name": last,
                "country_idx": l_country,
                "city": draw_cities(rng, l_country),
                "phone_nsn": draw_phone_numbers(rng, l_country),
                "company_name": pick(rng, ("Freelance", "Self-employed", "Startup", "Consulting"), n_leads),
                "source_idx": l_source,
                "created": l_created,
                "owner_idx": rng.choice(sales, n_leads),
            }
        )
        .join(country_table(), on="country_idx", how="left", maintain_order="left")
        .with_columns(
            email=pl.concat_str(
                [
                    pl.col("first_name").str.to_lowercase(),
                    pl.lit("."),
                    pl.col("last_name").str.to_lowercase(),
                    pl.lit(".lead"),
                    pl.col("_rec").cast(pl.String),
                    pl.lit("@gmail.com"),
                ]
            ),
            company_ref=pl.lit(-1),
            mobile_nsn=pl.lit(None, dtype=pl.String),
            title=pl.lit(None, dtype=pl.String),
        )
    )
    cols = [
        "_rec",
        "first_name",
        "last_name",
        "email",
        "city",
        "country",
        "country_name",
        "country_alpha3",
        "dial",
        "trunk_zero",
        "phone_nsn",
        "mobile_nsn",
        "company_ref",
        "company_name",
        "source_idx",
        "created",
        "owner_idx",
        "title",
    ]
    frame = pl.concat(
        [
            b2b.with_columns(pl.col("owner_idx").cast(pl.Int64)).select(cols),
            consumers.with_columns(
                pl.col("owner_idx").cast(pl.Int64), pl.col("company_ref").cast(pl.Int64)
            ).select(cols),
            leads.with_columns(
                pl.col("owner_idx").cast(pl.Int64), pl.col("company_ref").cast(pl.Int64)
            ).select(cols),
        ],
        how="vertical_relaxed",
    )
    stages = np.concatenate([stage_t, c_stage, l_stage])
    n = frame.height
    # People type their address into forms with capitals more often than a sales rep does.
    frame = dirt.capitalise_some(frame, "email", rng, 0.12)
    frame = frame.with_columns(
        source=label(pl.col("source_idx"), SOURCES),
        source_detail=label(pl.col("source_idx"), SOURCE_DETAIL),
        lead_status=pl.Series(pick(rng, LEAD_STATUS, n)),
    )
    frame = dirt.emails(frame, "email", rng, dirt_rate)
    frame = dirt.phones(frame, "phone", "national", rng, dirt_rate)
    frame = dirt.phones(frame, "mobile", "e164", rng, dirt_rate, nsn="mobile_nsn")
    frame = dirt.countries(frame, "country_text", "country_name", rng, dirt_rate)
    # Duplicates created later and merged into the surviving contact.
    dup = rng.random(n) < dirt_rate
    dups = frame.filter(pl.Series(dup))
    d = dups.height
    d_created = dups["created"].to_numpy() + (rng.exponential(30, d) * DAY).astype(np.int64) + HOUR
    merged_at = d_created + (rng.exponential(20, d) * DAY).astype(np.int64) + HOUR
    dup_rec = 60_000_000 + np.arange(d)
    dups = dups.with_columns(
        canonical=pl.col("_rec"),
        _rec=pl.Series(dup_rec),
        created=pl.Series(d_created),
        email=pl.col("email").str.to_uppercase(),
    )
    canonical_rows = np.flatnonzero(dup)
    lifecycle_idx = np.tile(np.arange(6), (n, 1))
    times = np.concatenate([stages, np.full((n, 1), NULL)], 1)
    times[canonical_rows, 6] = merged_at
    # versions must stay in time order: the merge may land between lifecycle steps
    order = np.argsort(np.where(times < 0, MAX_I64, times), axis=1, kind="stable")
    times = np.take_along_axis(times, order, 1)
    slot_kind = np.take_along_axis(np.concatenate([lifecycle_idx, np.full((n, 1), -1)], 1), order, 1)
    stage_now = np.maximum.accumulate(np.where((slot_kind >= 0) & (times >= 0), slot_kind, -1), axis=1)
    merged_flag = np.maximum.accumulate((slot_kind == -1) & (times >= 0), axis=1)
    merged_ids = pl.Series("merged_ids", [None] * n, dtype=pl.String)
    if d:
        merged_ids = merged_ids.scatter(canonical_rows, pl.Series((dup_rec + CONTACT_OFFSET).astype(str)))
    main = explode_slots(
        frame.with_columns(merged_ids, archived_base=pl.lit(False)),
        times,
        {"stage_idx": stage_now, "merged": merged_flag},
    ).with_columns(archived=pl.lit(False))
    dup_times = np.stack([d_created, merged_at], 1)
    dup_archived = np.zeros((d, 2), dtype=bool)
    dup_archived[:, 1] = True
    dup_stage = np.tile(np.array([1, 1]), (d, 1))
    dup_versions = explode_slots(
        dups.with_columns(merged_ids=pl.lit(None, dtype=pl.String), archived_base=pl.lit(False)),
        dup_times,
        {"stage_idx": dup_stage, "merged": np.zeros((d, 2), dtype=bool), "archived": dup_archived},
    )
    versions = sort_versions(pl.concat([main, dup_versions.select(main.columns)], how="vertical"))
    versions = versions.with_columns(lifecycle=label(pl.col("stage_idx"), LIFECYCLE))
    merges = sort_versions(
        pl.DataFrame(
            {
                "_rec": np.arange(d),
                "canonical": dups["canonical"].to_numpy(),
                "merged": dup_rec,
                "_ts": merged_at,
            }
        )
    )
    return versions, merges


def _render_contact(v: pl.DataFrame) -> pl.DataFrame:
    props = pl.struct(
        pl.col("email"),
        pl.col("first_name").alias("firstname"),
        pl.col("last_name").alias("lastname"),
        pl.col("phone"),
        pl.col("mobile").alias("mobilephone"),
        pl.col("company_name").alias("company"),
        pl.col("city"),
        pl.col("country_text").alias("country"),
        pl.col("lifecycle").alias("lifecyclestage"),
        pl.when(pl.col("stage_idx") >= 1).then(pl.col("lead_status")).alias("hs_lead_status"),
        pl.col("source").alias("hs_analytics_source"),
        pl.col("source_detail").alias("hs_analytics_source_data_1"),
        hid(OWNER_OFFSET, "owner_idx").alias("hubspot_owner_id"),
        hid(COMPANY_OFFSET, "company_ref").alias("associatedcompanyid"),
        pl.when(pl.col("merged")).then(pl.col("merged_ids")).alias("hs_merged_object_ids"),
        ts("created").alias("createdate"),
        ts("_ts").alias("lastmodifieddate"),
    )
    return v.select(
        hid(CONTACT_OFFSET, "_rec").alias("id"),
        props.alias("properties"),
        ts("created").alias("createdAt"),
        ts("_ts").alias("updatedAt"),
        pl.col("archived"),
    )


def _render_merge(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        hid(CONTACT_OFFSET, "canonical").alias("canonical_vid"),
        hid(CONTACT_OFFSET, "merged").alias("vid_to_merge"),
        ts("_ts").alias("timestamp"),
    )


# --- tickets --------------------------------------------------------------------------------------------------------

TICKET_CATEGORY = ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")
TICKET_SOURCE = ("EMAIL", "CHAT", "PHONE", "FORM")
TICKET_REPLY = np.array([3 * HOUR, 5 * 60, 10 * 60, 2 * HOUR])


def _tickets(rng, companies, pop, timeline, first_win, dirt_rate):
    comp = companies["company_idx"].to_numpy()
    win = first_win[comp]
    cust = comp[win >= 0]
    since = first_win[cust]
    years = np.maximum(timeline.horizon_end - since, 0) / (365.25 * DAY)
    parent, _ = repeat_index(rng.poisson(3.0 * years))
    n = len(parent)
    opened = np.sort(timeline.sample(rng, since[parent], np.full(n, timeline.horizon_end), "b2b"))
    company = cust[parent]
    agents = pop.owners.filter(pl.col("is_active") & pl.col("in_hubspot") & (pl.col("role") != "marketing"))
    agent = rng.choice(agents["owner_idx"].to_numpy(), n)
    src = rng.choice(4, n, p=[0.5, 0.2, 0.15, 0.15])
    life = support_lifecycle(rng, timeline, opened, TICKET_REPLY[src], agent)
    contact = pick_person(rng, pop.people, company, opened, pop.companies.height)
    base = pl.DataFrame(
        {
            "_rec": np.arange(n),
            "company_idx": company,
            "contact": contact,
            "owner_idx": agent,
            "source": np.asarray(TICKET_SOURCE)[src],
            "category": pick(rng, TICKET_CATEGORY, n),
            "priority": pick(rng, ("LOW", "MEDIUM", "HIGH", "URGENT"), n, p=np.array([0.3, 0.45, 0.2, 0.05])),
            "subject": pick(rng, CASE_SUBJECTS, n),
            "_created": opened,
            "first_response": life["first_response"],
            "escalated": life["escalated"],
            "satisfaction": life["satisfaction"],
        }
    ).with_columns(
        content=pl.concat_str(
            [pl.lit("Hello, "), pl.col("subject").str.to_lowercase(), pl.lit(" since yesterday.")]
        ),
        satisfaction=pl.col("satisfaction").replace(-1, None),
    )
    base = dirt.free_text(base, "content", rng, dirt_rate)
    times, status, reopen = life["times"], life["status"], life["reopen_count"]
    responded = np.zeros(times.shape, dtype=bool)
    responded[:, 1:] = True
    versions = explode_slots(
        base,
        times,
        {
            "status_code": status,
            "reopen": reopen,
            "responded": responded,
            "closed_at": np.where(status == 3, times, NULL),
        },
    )
    versions = sort_versions(
        versions.with_columns(
            stage=label(pl.col("status_code"), TICKET_STAGE),
            is_escalated=pl.col("escalated") & (pl.col("_slot") >= 1),
        )
    )
    events = base.select(
        "_rec", "company_idx", "contact", "owner_idx", "_created", "first_response", "subject"
    )
    return versions, events


def _render_ticket(v: pl.DataFrame) -> pl.DataFrame:
    closed = pl.col("status_code") == 3
    props = pl.struct(
        pl.col("subject"),
        pl.col("content"),
        pl.lit("0").alias("hs_pipeline"),
        pl.col("stage").alias("hs_pipeline_stage"),
        pl.col("priority").alias("hs_ticket_priority"),
        pl.col("category").alias("hs_ticket_category"),
        pl.col("source").alias("source_type"),
        hid(OWNER_OFFSET, "owner_idx").alias("hubspot_owner_id"),
        ts("_created").alias("createdate"),
        pl.when(pl.col("responded")).then(ts("first_response")).alias("first_agent_reply_date"),
        ts("closed_at").alias("closed_date"),
        ts("_ts").alias("hs_lastmodifieddate"),
        _str(pl.col("reopen")).alias("hs_num_times_reopened"),
        _bool_text(pl.col("is_escalated")).alias("hs_is_escalated"),
        pl.when(closed).then(_str(pl.col("satisfaction"))).alias("hs_feedback_last_csat_rating"),
    )
    return v.select(
        hid(TICKET_OFFSET, "_rec").alias("id"),
        props.alias("properties"),
        ts("_created").alias("createdAt"),
        ts("_ts").alias("updatedAt"),
        pl.lit(False).alias("archived"),
        pl.struct(_result_list(hid(CONTACT_OFFSET, "contact"), "ticket_to_contact").alias("contacts")).alias(
            "associations"
        ),
    )


# --- engagements ----------------------------------------------------------------------------------------------------

ENGAGEMENT_TYPES = ("EMAIL", "INCOMING_EMAIL", "CALL", "MEETING", "NOTE")
PREVIEWS = ("Thanks for the call today, attaching the proposal.", "Can we move our meeting to Thursday?",
            "Left a voicemail about renewal.", "Notes: budget confirmed, decision next month.",
            "Following up on the pricing question.")  # fmt: skip


def _engagements(rng, deals, companies, pop, timeline, ticket_events, dirt_rate):
    spans = deals.group_by("_rec", maintain_order=True).agg(
        pl.col("company_idx").first(),
        pl.col("contact").first(),
        pl.col("owner_idx").first(),
        pl.col("_created").first(),
        pl.col("closed_at").first(),
        pl.col("n_stages").first(),
    )
    parent, _ = repeat_index(rng.poisson(3.0 + 2.2 * spans["n_stages"].to_numpy()))
    n = len(parent)
    t_deal = timeline.sample(
        rng, spans["_created"].to_numpy()[parent], spans["closed_at"].to_numpy()[parent], "b2b"
    )
    kind_deal = rng.choice([0, 2, 3, 4], n, p=[0.4, 0.3, 0.12, 0.18])
    # Inbound e-mail from a company's people, most answered on the business clock.
    comp = companies["company_idx"].to_numpy()
    first_seen = companies["first_seen"].to_numpy()
    years = np.maximum(timeline.horizon_end - first_seen, 0) / (365.25 * DAY)
    c_parent, _ = repeat_index(rng.poisson(4.0 * years))
    k = len(c_parent)
    inbound_at = timeline.sample(rng, first_seen[c_parent], np.full(k, timeline.horizon_end), "b2b")
    in_company = comp[c_parent]
    in_contact = pick_person(rng, pop.people, in_company, inbound_at, pop.companies.height)
    in_owner = pop.companies["owner_idx"].to_numpy()[in_company]
    answered = rng.random(k) < 0.85
    reply_at = reply_moments(timeline, rng, inbound_at, np.full(k, 3.0 * HOUR), in_owner)
    t_n = ticket_events.height
    frames = [
        dict(
            company=spans["company_idx"].to_numpy()[parent],
            contact=spans["contact"].to_numpy()[parent],
            deal=spans["_rec"].to_numpy()[parent],
            ticket=np.full(n, -1),
            owner=spans["owner_idx"].to_numpy()[parent],
            kind=kind_deal,
            at=t_deal,
        ),
        dict(
            company=in_company,
            contact=in_contact,
            deal=np.full(k, -1),
            ticket=np.full(k, -1),
            owner=in_owner,
            kind=np.full(k, 1),
            at=inbound_at,
        ),
        dict(
            company=in_company[answered],
            contact=in_contact[answered],
            deal=np.full(answered.sum(), -1),
            ticket=np.full(answered.sum(), -1),
            owner=in_owner[answered],
            kind=np.zeros(answered.sum(), int),
            at=reply_at[answered],
        ),
        dict(
            company=ticket_events["company_idx"].to_numpy(),
            contact=ticket_events["contact"].to_numpy(),
            deal=np.full(t_n, -1),
            ticket=ticket_events["_rec"].to_numpy(),
            owner=ticket_events["owner_idx"].to_numpy(),
            kind=np.full(t_n, 1),
            at=ticket_events["_created"].to_numpy(),
        ),
        dict(
            company=ticket_events["company_idx"].to_numpy(),
            contact=ticket_events["contact"].to_numpy(),
            deal=np.full(t_n, -1),
            ticket=ticket_events["_rec"].to_numpy(),
            owner=ticket_events["owner_idx"].to_numpy(),
            kind=np.zeros(t_n, int),
            at=ticket_events["first_response"].to_numpy(),
        ),
    ]
    cols = {key: np.concatenate([f[key] for f in frames]) for key in frames[0]}
    order = np.argsort(cols["at"], kind="stable")
    cols = {key: value[order] for key, value in cols.items()}
    m = len(order)
    kind = cols["kind"]
    duration = np.where(kind == 2, rng.lognormal(12.4, 0.7, m).astype(np.int64), -1)  # milliseconds
    meeting_minutes = pick(rng, ("30", "45", "60"), m).astype(np.int64)
    frame = pl.DataFrame(
        {
            "_rec": np.arange(m),
            "company_idx": cols["company"],
            "contact": cols["contact"],
            "deal": cols["deal"],
            "ticket": cols["ticket"],
            "owner_idx": cols["owner"],
            "kind": kind,
            "at": cols["at"],
            "call_ms": duration,
            "meeting_end": cols["at"] + meeting_minutes * 60,
            "preview": pick(rng, PREVIEWS, m),
            "call_direction": np.where(rng.random(m) < 0.8, "OUTBOUND", "INBOUND"),
        }
    ).with_columns(
        _ts=pl.col("at"),
        type=label(pl.col("kind"), ENGAGEMENT_TYPES),
        call_ms=pl.col("call_ms").replace(-1, None),
    )
    frame = dirt.free_text(frame, "preview", rng, dirt_rate)
    archive = pl.Series(rng.random(m) < dirt_rate / 2)
    return sort_versions(frame.with_columns(archived=archive))


def _render_engagement(v: pl.DataFrame) -> pl.DataFrame:
    kind = pl.col("type")
    props = pl.struct(
        ts("at").alias("hs_timestamp"),
        hid(OWNER_OFFSET, "owner_idx").alias("hubspot_owner_id"),
        pl.when(kind.is_in(["EMAIL", "INCOMING_EMAIL"])).then(kind).alias("hs_email_direction"),
        pl.when(kind == "CALL").then(pl.col("call_direction")).alias("hs_call_direction"),
        pl.when(kind == "CALL").then(_str(pl.col("call_ms"))).alias("hs_call_duration"),
        pl.when(kind == "MEETING").then(ts("at")).alias("hs_meeting_start_time"),
        pl.when(kind == "MEETING").then(ts("meeting_end")).alias("hs_meeting_end_time"),
        pl.col("preview").alias("hs_body_preview"),
    )
    return v.select(
        hid(ENGAGEMENT_OFFSET, "_rec").alias("id"),
        kind.alias("type"),
        props.alias("properties"),
        ts("_ts").alias("createdAt"),
        ts("_ts").alias("updatedAt"),
        pl.col("archived"),
        pl.struct(
            _id_list(hid(CONTACT_OFFSET, "contact")).alias("contactIds"),
            _id_list(hid(COMPANY_OFFSET, "company_idx")).alias("companyIds"),
            _id_list(hid(DEAL_OFFSET, "deal")).alias("dealIds"),
            _id_list(hid(TICKET_OFFSET, "ticket")).alias("ticketIds"),
        ).alias("associations"),
    )
