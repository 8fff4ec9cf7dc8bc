"""Salesforce: users, accounts, contacts, the lead -> opportunity -> won funnel, activities, cases.

Written as the Salesforce data export writes them: one CSV per object, API-name headers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from warehouse.generate import dirt
from warehouse.generate.population import (
    COMPANY_WORDS_A,
    COMPANY_WORDS_B,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    Population,
    country_table,
    draw_cities,
    draw_countries,
    draw_phone_numbers,
    pick,
    stream,
)  # fmt: skip
from warehouse.generate.slots import explode_slots, group_offsets, repeat_index
from warehouse.generate.timeline import DAY, HOUR, NULL, Timeline, reply_moments
from warehouse.generate.writers import Extract, day, label, money, sf_id, sort_versions, ts

LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show", "Advertisement",
                "Employee Referral", "Other")  # fmt: skip
LEAD_SHARE = np.array([0.30, 0.08, 0.08, 0.15, 0.10, 0.15, 0.04, 0.10])
LEAD_CONVERSION = np.array([0.18, 0.25, 0.35, 0.05, 0.15, 0.08, 0.40, 0.10])
FIRST_WIN_RATE = np.array([0.30, 0.35, 0.48, 0.12, 0.26, 0.20, 0.52, 0.20])
CAMPAIGN_KIND = ("Website Inbound", "Inbound Calls", "Partner Program", "List Import", "Trade Show",
                 "Display Ads", "Employee Referral", "Misc")  # fmt: skip

STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review",
          "Closed Won", "Closed Lost")  # fmt: skip
STAGE_PROBABILITY = np.array([10, 10, 20, 75, 90, 100, 0])
STAGE_DAYS = np.array([6.0, 10.0, 9.0, 14.0, 9.0])
SEGMENT_PACE = {"Enterprise": 1.8, "Mid-Market": 1.2, "SMB": 0.7}
SEGMENT_DEAL = {"Enterprise": 120_000.0, "Mid-Market": 35_000.0, "SMB": 7_000.0}

PREFIX = {"User": "005", "Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006",
          "OpportunityHistory": "008", "Task": "00T", "Event": "00U", "Case": "500", "Campaign": "701",
          "UserRole": "00E"}  # fmt: skip
DUPLICATE_OFFSET = 5_000_000_000
SALESFORCE_OBJECTS = ("User", "Account", "Contact", "Lead", "Opportunity", "OpportunityHistory", "Task", "Event",
                      "Case")  # fmt: skip


@dataclass
class SalesforceWorld:
    extracts: list[Extract]
    case_threads: pl.DataFrame  # cases that started as a contact-center conversation
    first_win: np.ndarray  # per company: moment of its first won Salesforce opportunity, -1 if none


def build_salesforce(seed: int, pop: Population, timeline: Timeline, dirt_rate: float) -> SalesforceWorld:
    users = _users(pop)
    companies = pop.companies.filter(pl.col("in_salesforce"))
    people = pop.people.filter(pl.col("in_salesforce"))
    leads, first_lead = _leads(stream(seed, "sf.leads"), companies, people, pop, timeline, dirt_rate)
    opps, history, first_win = _opportunities(stream(seed, "sf.opps"), companies, first_lead, pop, timeline)
    accounts = _accounts(stream(seed, "sf.accounts"), companies, first_lead, first_win, timeline, dirt_rate)
    contacts = _contacts(stream(seed, "sf.contacts"), people, first_lead, timeline, dirt_rate)
    tasks, events = _activities(
        stream(seed, "sf.activities"), opps, people, pop, timeline, dirt_rate, first_win, leads
    )
    cases, case_threads = _cases(
        stream(seed, "sf.cases"), companies, people, pop, timeline, first_win, dirt_rate
    )
    extracts = [
        Extract("salesforce", "User", "csv", users, _render_user, "Id"),
        Extract("salesforce", "Account", "csv", accounts, _render_account, "Id"),
        Extract("salesforce", "Contact", "csv", contacts, _render_contact, "Id"),
        Extract("salesforce", "Lead", "csv", leads, _render_lead, "Id"),
        Extract("salesforce", "Opportunity", "csv", opps, _render_opportunity, "Id"),
        Extract("salesforce", "OpportunityHistory", "csv", history, _render_history, "Id"),
        Extract("salesforce", "Task", "csv", tasks, _render_task, "Id"),
        Extract("salesforce", "Event", "csv", events, _render_event, "Id"),
        Extract("salesforce", "Case", "csv", cases, _render_case, "Id"),
    ]
    return SalesforceWorld(extracts, case_threads, first_win)


# --- users -------------------------------------------------------------------------------------------------


def _users(pop: Population) -> pl.DataFrame:
    role_code = {"sales": 1, "support": 2, "marketing": 3}
    return sort_versions(
        pop.owners.with_columns(
            _rec=pl.col("owner_idx"),
            _ts=pl.col("created"),
            department=pl.col("role").replace_strict(
                {"sales": "Sales", "support": "Customer Support", "marketing": "Marketing"}
            ),
            role_id=pl.col("role").replace_strict(role_code, return_dtype=pl.Int64),
        )
    )


def _render_user(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        sf_id(PREFIX["User"], "owner_idx").alias("Id"),
        pl.col("first_name").alias("FirstName"),
        pl.col("last_name").alias("LastName"),
        pl.concat_str(["first_name", "last_name"], separator=" ").alias("Name"),
        pl.col("email").alias("Email"),
        pl.col("is_active").alias("IsActive"),
        pl.col("department").alias("Department"),
        pl.col("title").alias("Title"),
        sf_id(PREFIX["UserRole"], "role_id").alias("UserRoleId"),
        ts("created").alias("CreatedDate"),
        ts("_ts").alias("SystemModstamp"),
    )


# --- leads ---------------------------------------------------------------------------------------------------


def _campaign_name(source: pl.Expr, moment: pl.Expr) -> pl.Expr:
    t = pl.from_epoch(moment, time_unit="s")
    kind = source.replace_strict(dict(zip(LEAD_SOURCES, CAMPAIGN_KIND, strict=True)))
    return pl.concat_str(
        [t.dt.year().cast(pl.String), pl.lit("-Q"), t.dt.quarter().cast(pl.String), pl.lit(" "), kind]
    )


def _leads(rng, companies, people, pop, timeline, dirt_rate):
    """Converted leads become the accounts' first contact and opportunity; the rest never convert."""
    n_comp = companies.height
    from_lead = rng.random(n_comp) < 0.75
    converted_p = LEAD_SHARE * LEAD_CONVERSION
    conv_source = rng.choice(len(LEAD_SOURCES), n_comp, p=converted_p / converted_p.sum())
    created_company = companies["sf_created"].to_numpy()
    lead_age = (rng.exponential(25, n_comp) * DAY).astype(np.int64) + HOUR
    lead_created = np.maximum(created_company - lead_age, np.minimum(timeline.origin, created_company - 1))
    primary = people.filter(pl.col("is_primary")).select(
        "company_idx", "person_idx", "email", "first_name", "last_name", "mobile_nsn", "direct_nsn"
    )
    conv = (
        companies.select(
            "company_idx",
            "name",
            "industry",
            "city",
            "country",
            "country_name",
            "country_alpha3",
            "dial",
            "trunk_zero",
            "phone_nsn",
            "owner_idx",
        )
        .with_columns(
            source_idx=pl.Series(conv_source),
            _created=pl.Series(lead_created),
            converted_at=pl.Series(created_company),
            from_lead=pl.Series(from_lead),
        )
        .filter(pl.col("from_lead"))
        .join(primary, on="company_idx", how="left", maintain_order="left")
        .with_columns(converted=pl.lit(True), phone_nsn=pl.col("direct_nsn"))
    )
    # Non-converted leads: per source, as many as that source's conversion rate implies.
    counts = np.bincount(conv["source_idx"].to_numpy(), minlength=len(LEAD_SOURCES))
    lost_counts = rng.poisson(counts * (1 - LEAD_CONVERSION) / LEAD_CONVERSION)
    lost_source = np.repeat(np.arange(len(LEAD_SOURCES)), lost_counts)
    n_lost = len(lost_source)
    country_idx = draw_countries(rng, n_lost, "b2b")
    lost_created = timeline.sample(
        rng, np.full(n_lost, timeline.origin), np.full(n_lost, timeline.horizon_end), "b2b"
    )
    first = pick(rng, FIRST_NAMES, n_lost)
    last = pick(rng, LAST_NAMES, n_lost)
    company = pick(rng, COMPANY_WORDS_A, n_lost) + " " + pick(rng, COMPANY_WORDS_B, n_lost)
    sales = pop.owners.filter(pl.col("is_active") & (pl.col("role") == "sales"))["owner_idx"].to_numpy()
    lost = pl.DataFrame(
        {
            "company_idx": np.full(n_lost, -1),
            "name": company,
            "industry": pick(rng, INDUSTRIES, n_lost),
            "city": draw_cities(rng, country_idx),
            "country_idx": country_idx,
            "phone_nsn": draw_phone_numbers(rng, country_idx),
            "owner_idx": rng.choice(sales, n_lost),
            "source_idx": lost_source,
            "_created": lost_created,
            "converted_at": np.full(n_lost, NULL),
            "person_idx": np.full(n_lost, -1),
            "first_name": first,
            "last_name": last,
            "mobile_nsn": draw_phone_numbers(rng, country_idx),
            "converted": np.zeros(n_lost, dtype=bool),
        }
    ).join(country_table(), on="country_idx", how="left", maintain_order="left")
    lost = lost.with_columns(
        email=pl.concat_str(
            [
                pl.col("first_name").str.to_lowercase(),
                pl.lit("."),
                pl.col("last_name").str.to_lowercase(),
                pl.lit("@"),
                pl.col("name").str.to_lowercase().str.replace_all(" ", ""),
                pl.arange(0, pl.len()).cast(pl.String),
                pl.lit(".com"),
            ]
        )
    )
    columns = [
        "company_idx",
        "person_idx",
        "name",
        "industry",
        "city",
        "country",
        "country_name",
        "country_alpha3",
        "dial",
        "trunk_zero",
        "phone_nsn",
        "owner_idx",
        "source_idx",
        "_created",
        "converted_at",
        "first_name",
        "last_name",
        "email",
        "converted",
    ]
    frame = pl.concat([conv.select(columns), lost.select(columns)], how="vertical").with_columns(
        pl.col("phone_nsn").cast(pl.String)
    )
    n = frame.height
    frame = frame.with_columns(_rec=pl.arange(0, n), source=label(pl.col("source_idx"), LEAD_SOURCES))
    frame = frame.with_columns(campaign=_campaign_name(pl.col("source"), pl.col("_created")))
    frame = dirt.emails(frame, "email", rng, dirt_rate)
    frame = dirt.phones(frame, "phone", "intl", rng, dirt_rate)
    frame = dirt.countries(frame, "country_text", "country_name", rng, dirt_rate)
    created = frame["_created"].to_numpy()
    converted_at = frame["converted_at"].to_numpy()
    is_conv = frame["converted"].to_numpy()
    worked = created + (rng.exponential(2.5, n) * DAY).astype(np.int64) + 600
    worked = np.where(is_conv, np.minimum(worked, converted_at - 1), worked)
    closes = rng.random(n) < 0.7
    closed_at = np.where(
        is_conv,
        converted_at,
        np.where(closes, worked + (rng.exponential(25, n) * DAY).astype(np.int64), NULL),
    )
    times = np.stack(
        [created, np.maximum(worked, created), np.where(closed_at >= 0, np.maximum(closed_at, worked), NULL)],
        1,
    )
    status = np.array(["Open - Not Contacted", "Working - Contacted", ""], dtype=object)
    status_slots = np.tile(status, (n, 1))
    status_slots[:, 2] = np.where(is_conv, "Closed - Converted", "Closed - Not Converted")
    conv_slots = np.zeros((n, 3), dtype=bool)
    conv_slots[:, 2] = is_conv
    versions = sort_versions(
        explode_slots(frame, times, {"status": status_slots, "is_converted": conv_slots})
    )
    first_lead = conv.select("company_idx", "source_idx").join(
        frame.filter(pl.col("converted")).select("company_idx", lead_rec="_rec"),
        on="company_idx",
        how="left",
        maintain_order="left",
    )
    return versions, first_lead


def _render_lead(v: pl.DataFrame) -> pl.DataFrame:
    conv = pl.col("is_converted")
    return v.select(
        sf_id(PREFIX["Lead"], "_rec").alias("Id"),
        pl.col("first_name").alias("FirstName"),
        pl.col("last_name").alias("LastName"),
        pl.concat_str(["first_name", "last_name"], separator=" ").alias("Name"),
        pl.col("name").alias("Company"),
        pl.col("email").alias("Email"),
        pl.col("phone").alias("Phone"),
        pl.col("city").alias("City"),
        pl.col("country_text").alias("Country"),
        pl.col("industry").alias("Industry"),
        pl.col("source").alias("LeadSource"),
        pl.col("campaign").alias("Campaign__c"),
        pl.col("status").alias("Status"),
        sf_id(PREFIX["User"], "owner_idx").alias("OwnerId"),
        conv.alias("IsConverted"),
        pl.when(conv).then(day("converted_at")).alias("ConvertedDate"),
        pl.when(conv).then(sf_id(PREFIX["Account"], "company_idx")).alias("ConvertedAccountId"),
        pl.when(conv).then(sf_id(PREFIX["Contact"], "person_idx")).alias("ConvertedContactId"),
        pl.when(conv).then(sf_id(PREFIX["Opportunity"], "company_idx")).alias("ConvertedOpportunityId"),
        pl.lit(None, dtype=pl.String).alias("MasterRecordId"),
        pl.lit(False).alias("IsDeleted"),
        ts("_created").alias("CreatedDate"),
        ts("_ts").alias("LastModifiedDate"),
        ts("_ts").alias("SystemModstamp"),
    )


# --- opportunities ----------------------------------------------------------------------------------------------


def stage_paths(rng: np.random.Generator, won: np.ndarray, pace: np.ndarray, created: np.ndarray):
    """Stage codes (0..4 open, 5 won, 6 lost) and entry moments per opportunity; -1 = unused slot."""
    n = len(won)
    reached = np.where(won, 4, rng.choice(5, n, p=[0.34, 0.3, 0.16, 0.12, 0.08]))
    skip_needs = won & (rng.random(n) < 0.3)
    durations = rng.lognormal(np.log(STAGE_DAYS), 0.6, (n, 5)) * pace[:, None] * DAY
    codes = np.full((n, 6), -1, dtype=np.int64)
    times = np.full((n, 6), NULL, dtype=np.int64)
    clock = created.astype(np.int64).copy()
    slot = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    for stage in range(5):
        enters = (stage <= reached) & ~((stage == 2) & skip_needs)
        codes[rows[enters], slot[enters]] = stage
        times[rows[enters], slot[enters]] = clock[enters]
        clock = np.where(enters, clock + durations[:, stage].astype(np.int64), clock)
        slot = slot + enters
    codes[rows, slot] = np.where(won, 5, 6)
    times[rows, slot] = clock
    return codes, times


def _opportunities(rng, companies, first_lead, pop, timeline):
    n_comp_total = pop.companies.height
    comp = companies.select("company_idx", "name", "segment", "currency", "owner_idx", "sf_created").join(
        first_lead, on="company_idx", how="left", maintain_order="left"
    )
    created = comp["sf_created"].to_numpy()
    years_left = np.maximum(timeline.horizon_end - created, 0) / (365.25 * DAY)
    extra = rng.poisson(0.6 * years_left)
    parent, rank = repeat_index(1 + extra)
    m = len(parent)
    first = rank == 0
    later_created = timeline.sample(rng, created[parent] + 30 * DAY, np.full(m, timeline.horizon_end), "b2b")
    opp_created = np.where(first, created[parent], later_created)
    source_idx = comp["source_idx"].fill_null(-1).to_numpy()[parent]
    win_rate = np.where(first & (source_idx >= 0), FIRST_WIN_RATE[np.maximum(source_idx, 0)], 0.55)
    win_rate = np.where(first & (source_idx < 0), 0.4, win_rate)
    won = rng.random(m) < win_rate
    segment = comp["segment"].to_numpy()[parent]
    pace = np.vectorize(SEGMENT_PACE.get)(segment).astype(float)
    base = np.vectorize(SEGMENT_DEAL.get)(segment).astype(float)
    amount = np.round(base * rng.lognormal(0, 0.55, m) * np.where(first, 1.0, 0.6), -2)
    codes, times = stage_paths(rng, won, pace, opp_created)
    planned_close = opp_created + (STAGE_DAYS.sum() * pace * DAY).astype(np.int64)
    closed = codes >= 5
    close_date = np.where(closed, times, planned_close[:, None])
    # The first opportunity carries the company number so the lead can name it before it exists.
    rec = np.where(first, comp["company_idx"].to_numpy()[parent], n_comp_total + np.arange(m))
    kind = np.where(
        first,
        "New Customer",
        np.where(rng.random(m) < 0.5, "Existing Customer - Upgrade", "Existing Customer - Renewal"),
    )
    product = np.where(
        first,
        " - Platform License",
        np.where(kind == "Existing Customer - Upgrade", " - Expansion", " - Renewal"),
    )
    base_frame = (
        pl.DataFrame(
            {
                "_rec": rec,
                "company_idx": comp["company_idx"].to_numpy()[parent],
                "opp_name": comp["name"].to_numpy()[parent].astype(object) + product.astype(object),
                "amount": amount,
                "currency": comp["currency"].to_numpy()[parent],
                "source_idx": np.where(first, source_idx, -1),
                "type": kind,
                "owner_idx": comp["owner_idx"].to_numpy()[parent],
                "_created": opp_created,
                "won": won,
                "closed_at": times.max(axis=1),
            }
        )
        .with_columns(
            lead_source=pl.when(pl.col("source_idx") >= 0).then(label(pl.col("source_idx"), LEAD_SOURCES)),
        )
        .with_columns(
            campaign_idx=pl.when(pl.col("source_idx") >= 0).then(
                pl.col("source_idx") * 100
                + pl.from_epoch("_created", time_unit="s").dt.year() % 100 * 4
                + pl.from_epoch("_created", time_unit="s").dt.quarter()
            )
        )
    )
    versions = explode_slots(base_frame, times, {"stage": codes, "close_date": close_date})
    versions = sort_versions(
        versions.with_columns(
            stage_name=label(pl.col("stage"), STAGES),
            probability=pl.col("stage").replace_strict(
                dict(enumerate(STAGE_PROBABILITY.tolist())), return_dtype=pl.Int64
            ),
            is_closed=pl.col("stage") >= 5,
            is_won=pl.col("stage") == 5,
        )
    )
    history = versions.with_columns(
        opp_rec=pl.col("_rec"), _rec=pl.arange(0, pl.len()), _created=pl.col("_ts")
    )
    won_close = np.where(won, times.max(axis=1), np.iinfo(np.int64).max)
    first_win = np.full(n_comp_total, np.iinfo(np.int64).max)
    np.minimum.at(first_win, comp["company_idx"].to_numpy()[parent], won_close)
    first_win = np.where(first_win == np.iinfo(np.int64).max, NULL, first_win)
    return versions, history, first_win


def _render_opportunity(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        sf_id(PREFIX["Opportunity"], "_rec").alias("Id"),
        sf_id(PREFIX["Account"], "company_idx").alias("AccountId"),
        pl.col("opp_name").alias("Name"),
        pl.col("stage_name").alias("StageName"),
        money("amount").alias("Amount"),
        pl.col("currency").alias("CurrencyIsoCode"),
        pl.col("probability").alias("Probability"),
        day("close_date").alias("CloseDate"),
        pl.col("is_closed").alias("IsClosed"),
        pl.col("is_won").alias("IsWon"),
        pl.col("lead_source").alias("LeadSource"),
        pl.col("type").alias("Type"),
        sf_id(PREFIX["User"], "owner_idx").alias("OwnerId"),
        sf_id(PREFIX["Campaign"], "campaign_idx").alias("CampaignId"),
        pl.lit(False).alias("IsDeleted"),
        ts("_created").alias("CreatedDate"),
        ts("_ts").alias("LastModifiedDate"),
        ts("_ts").alias("SystemModstamp"),
    )


def _render_history(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        sf_id(PREFIX["OpportunityHistory"], "_rec").alias("Id"),
        sf_id(PREFIX["Opportunity"], "opp_rec").alias("OpportunityId"),
        pl.col("stage_name").alias("StageName"),
        money("amount").alias("Amount"),
        pl.col("probability").alias("Probability"),
        day("close_date").alias("CloseDate"),
        pl.lit(False).alias("IsDeleted"),
        ts("_ts").alias("CreatedDate"),
        ts("_ts").alias("SystemModstamp"),
    )


# --- accounts and contacts ------------------------------------------------------------------------------------


def _edits(
    rng, created: np.ndarray, horizon_end: int, timeline: Timeline, per_year: float, max_edits: int = 3
):
    """Moments of ordinary edits (a field corrected, an address updated) after creation."""
    n = len(created)
    years = np.maximum(horizon_end - created, 0) / (365.25 * DAY)
    count = np.minimum(rng.poisson(per_year * years), max_edits)
    times = np.full((n, max_edits), NULL, dtype=np.int64)
    for k in range(max_edits):
        moment = timeline.sample(rng, created + HOUR, np.full(n, horizon_end), "b2b")
        times[:, k] = np.where(k < count, moment, NULL)
    return np.sort(np.where(times < 0, np.iinfo(np.int64).max, times), axis=1)


def _with_duplicates(rng, frame: pl.DataFrame, dirt_rate: float, created_col: str, horizon_end: int):
    """Copies of some records entered twice, merged (deleted, MasterRecordId = survivor) weeks later."""
    n = frame.height
    dup = rng.random(n) < dirt_rate * 1.5
    copies = frame.filter(pl.Series(dup))
    k = copies.height
    entered = copies[created_col].to_numpy() + (rng.exponential(20, k) * DAY).astype(np.int64) + HOUR
    merged = entered + (rng.exponential(30, k) * DAY).astype(np.int64) + HOUR
    copies = copies.with_columns(
        master_rec=pl.col("_rec"),
        _rec=pl.col("_rec") + DUPLICATE_OFFSET,
        **{created_col: pl.Series(entered)},
        merged_at=pl.Series(np.where(merged <= horizon_end, merged, NULL)),
    )
    frame = frame.with_columns(
        master_rec=pl.lit(None, dtype=pl.Int64), merged_at=pl.lit(NULL, dtype=pl.Int64)
    )
    return frame, copies


def _merge_versions(copies: pl.DataFrame, created_col: str) -> pl.DataFrame:
    times = np.stack([copies[created_col].to_numpy(), copies["merged_at"].to_numpy()], 1)
    deleted = np.zeros(times.shape, dtype=bool)
    deleted[:, 1] = True
    return explode_slots(copies, times, {"is_deleted": deleted})


def _accounts(rng, companies, first_lead, first_win, timeline, dirt_rate):
    frame = companies.join(
        first_lead.select("company_idx", "source_idx"), on="company_idx", how="left", maintain_order="left"
    )
    frame = frame.with_columns(
        _rec=pl.col("company_idx"),
        account_source=pl.when(pl.col("source_idx").is_not_null())
        .then(label(pl.col("source_idx"), LEAD_SOURCES))
        .otherwise(pl.lit("Partner Referral")),
        website=pl.concat_str([pl.lit("https://www."), pl.col("domain")]),
    )
    frame = dirt.phones(frame, "phone", "intl", rng, dirt_rate)
    frame = dirt.countries(frame, "country_text", "country_name", rng, dirt_rate)
    created = frame["sf_created"].to_numpy()
    win = first_win[frame["company_idx"].to_numpy()]
    edits = _edits(rng, created, timeline.horizon_end, timeline, 0.8)
    times = np.concatenate(
        [created[:, None], np.where(win >= 0, win, np.iinfo(np.int64).max)[:, None], edits], 1
    )
    times = np.sort(times, axis=1)
    times = np.where(times == np.iinfo(np.int64).max, NULL, times)
    is_customer = (win[:, None] >= 0) & (times >= win[:, None]) & (times >= 0)
    frame, copies = _with_duplicates(rng, frame, dirt_rate, "sf_created", timeline.horizon_end)
    main = explode_slots(frame, times, {"is_customer": is_customer})
    main = main.with_columns(is_deleted=pl.lit(False))
    copies = copies.with_columns(name=pl.col("name").str.to_uppercase(), website=pl.col("domain"))
    dup = _merge_versions(copies, "sf_created").with_columns(is_customer=pl.lit(False))
    return sort_versions(pl.concat([main, dup.select(main.columns)], how="vertical"))


def _render_account(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        sf_id(PREFIX["Account"], "_rec").alias("Id"),
        pl.col("name").alias("Name"),
        pl.col("website").alias("Website"),
        pl.col("industry").alias("Industry"),
        pl.when(pl.col("is_customer")).then(pl.lit("Customer")).otherwise(pl.lit("Prospect")).alias("Type"),
        pl.col("account_source").alias("AccountSource"),
        pl.col("employees").alias("NumberOfEmployees"),
        money("annual_revenue").alias("AnnualRevenue"),
        pl.col("currency").alias("CurrencyIsoCode"),
        pl.col("phone").alias("Phone"),
        pl.col("city").alias("BillingCity"),
        pl.col("country_text").alias("BillingCountry"),
        pl.col("region").alias("Region__c"),
        pl.col("segment").alias("Segment__c"),
        sf_id(PREFIX["User"], "owner_idx").alias("OwnerId"),
        pl.lit(None, dtype=pl.String).alias("ParentId"),
        sf_id(PREFIX["Account"], "master_rec").alias("MasterRecordId"),
        pl.col("is_deleted").alias("IsDeleted"),
        ts("sf_created").alias("CreatedDate"),
        ts("_ts").alias("LastModifiedDate"),
        ts("_ts").alias("SystemModstamp"),
    )


def _contacts(rng, people, first_lead, timeline, dirt_rate):
    frame = people.join(
        first_lead.select("company_idx", "source_idx"), on="company_idx", how="left", maintain_order="left"
    )
    frame = frame.with_columns(
        _rec=pl.col("person_idx"),
        lead_source=pl.when(pl.col("is_primary") & pl.col("source_idx").is_not_null()).then(
            label(pl.col("source_idx"), LEAD_SOURCES)
        ),
        mobile_nsn=pl.when(pl.col("has_mobile")).then(pl.col("mobile_nsn")),
    )
    frame = dirt.emails(frame, "email", rng, dirt_rate)
    frame = dirt.phones(frame, "phone", "intl", rng, dirt_rate, nsn="direct_nsn")
    frame = dirt.phones(frame, "mobile", "intl", rng, dirt_rate, nsn="mobile_nsn")
    frame = dirt.countries(frame, "country_text", "country_name", rng, dirt_rate)
    created = frame["sf_joined"].to_numpy()
    edits = _edits(rng, created, timeline.horizon_end, timeline, 0.5, 2)
    times = np.concatenate([created[:, None], edits], 1)
    times = np.where(times == np.iinfo(np.int64).max, NULL, times)
    frame, copies = _with_duplicates(rng, frame, dirt_rate, "sf_joined", timeline.horizon_end)
    main = explode_slots(frame, times, {}).with_columns(is_deleted=pl.lit(False))
    copies = copies.with_columns(email=pl.col("email").str.to_uppercase())
    dup = _merge_versions(copies, "sf_joined")
    return sort_versions(pl.concat([main, dup.select(main.columns)], how="vertical"))


def _render_contact(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        sf_id(PREFIX["Contact"], "_rec").alias("Id"),
        sf_id(PREFIX["Account"], "company_idx").alias("AccountId"),
        pl.col("first_name").alias("FirstName"),
        pl.col("last_name").alias("LastName"),
        pl.concat_str(["first_name", "last_name"], separator=" ").alias("Name"),
        pl.col("email").alias("Email"),
        pl.col("phone").alias("Phone"),
        pl.col("mobile").alias("MobilePhone"),
        pl.col("city").alias("MailingCity"),
        pl.col("country_text").alias("MailingCountry"),
        pl.col("title").alias("Title"),
        pl.col("lead_source").alias("LeadSource"),
        sf_id(PREFIX["User"], "owner_idx").alias("OwnerId"),
        sf_id(PREFIX["Contact"], "master_rec").alias("MasterRecordId"),
        pl.col("is_deleted").alias("IsDeleted"),
        ts("sf_joined").alias("CreatedDate"),
        ts("_ts").alias("LastModifiedDate"),
        ts("_ts").alias("SystemModstamp"),
    )


# --- activities -------------------------------------------------------------------------------------------------

TASK_SUBJECTS = {
    "Call": ("Discovery call", "Follow-up call", "Pricing call", "Check-in call"),
    "Email": ("Email: proposal sent", "Email: follow up", "Email: intro", "Email: contract questions"),
    "Task": ("Send quote", "Prepare demo", "Update CRM notes", "Schedule onboarding"),
}
NOTES = ("Discussed requirements and timeline.", "Customer asked for a revised quote.",
         "Left voicemail, will retry.", "Sent deck and pricing.", "Agreed next steps with the buyer.")  # fmt: skip


def pick_person(rng, people: pl.DataFrame, company_idx: np.ndarray, at: np.ndarray, n_companies: int):
    """A person of the company who already existed at ``at`` (the first contact otherwise)."""
    pc = people["company_idx"].to_numpy()
    starts, counts = group_offsets(pc, n_companies)
    count = np.maximum(counts[company_idx], 1)
    chosen = starts[company_idx] + rng.integers(0, 1 << 30, len(company_idx)) % count
    joined = people["sf_joined"].to_numpy() if "sf_joined" in people.columns else people["joined"].to_numpy()
    chosen = np.where(joined[chosen] <= at, chosen, starts[company_idx])
    return people["person_idx"].to_numpy()[chosen]


def _activities(rng, opps, people, pop, timeline, dirt_rate, first_win, leads):
    n_comp = pop.companies.height
    spans = opps.group_by("_rec", maintain_order=True).agg(
        pl.col("company_idx").first(),
        pl.col("owner_idx").first(),
        pl.col("_created").first(),
        pl.col("closed_at").first(),
        pl.col("_slot").max().alias("stages"),
    )
    # Work on an opportunity: more stages, more calls, e-mails and meetings.
    n_task = rng.poisson(3.0 + 2.2 * spans["stages"].to_numpy())
    n_event = rng.poisson(0.4 + 0.45 * spans["stages"].to_numpy())
    opp_rec = spans["_rec"].to_numpy()
    comp_idx = spans["company_idx"].to_numpy()
    owner = spans["owner_idx"].to_numpy()
    start = spans["_created"].to_numpy()
    end = spans["closed_at"].to_numpy()
    # Account management after the first win.
    cust = np.flatnonzero(first_win >= 0)
    years = np.maximum(timeline.horizon_end - first_win[cust], 0) / (365.25 * DAY)
    n_care = rng.poisson(6.0 * years)
    owner_by_company = pop.companies["owner_idx"].to_numpy()
    # Prospecting calls to leads.
    lead_first = (
        leads.group_by("_rec", maintain_order=True)
        .agg(
            pl.col("_created").first(),
            pl.col("_ts").last(),
            pl.col("owner_idx").first(),
            pl.col("converted").first(),
        )
        .filter(~pl.col("converted"))
    )
    n_lead_calls = rng.poisson(1.2, lead_first.height)

    def spread(counts, lo, hi):
        parent, _ = repeat_index(counts)
        return parent, timeline.sample(rng, lo[parent], np.maximum(hi[parent], lo[parent] + HOUR), "b2b")

    t_parent, t_time = spread(n_task, start, end)
    c_parent, c_time = spread(n_care, first_win[cust], np.full(len(cust), timeline.horizon_end))
    l_parent, l_time = spread(
        n_lead_calls, lead_first["_created"].to_numpy(), lead_first["_ts"].to_numpy() + 5 * DAY
    )
    what = np.concatenate([opp_rec[t_parent], np.full(len(c_parent), -1), np.full(len(l_parent), -1)])
    company = np.concatenate([comp_idx[t_parent], cust[c_parent], np.full(len(l_parent), -1)])
    moment = np.concatenate([t_time, c_time, l_time])
    task_owner = np.concatenate(
        [owner[t_parent], owner_by_company[cust[c_parent]], lead_first["owner_idx"].to_numpy()[l_parent]]
    )
    lead_who = np.concatenate(
        [np.full(len(t_parent) + len(c_parent), -1), lead_first["_rec"].to_numpy()[l_parent]]
    )
    order = np.argsort(moment, kind="stable")
    what, company, moment, task_owner, lead_who = (
        a[order] for a in (what, company, moment, task_owner, lead_who)
    )
    m = len(moment)
    has_company = company >= 0
    who = np.full(m, -1)
    who[has_company] = pick_person(rng, people, company[has_company], moment[has_company], n_comp)
    subtype = pick(rng, ("Call", "Email", "Task"), m, p=np.array([0.45, 0.4, 0.15]))
    subtype = np.where(lead_who >= 0, "Call", subtype)
    subject = np.empty(m, dtype=object)
    for kind, options in TASK_SUBJECTS.items():
        rows = np.flatnonzero(subtype == kind)
        subject[rows] = pick(rng, options, len(rows))
    planned = rng.random(m) < 0.25
    created = np.where(planned, moment - (rng.exponential(2, m) * DAY).astype(np.int64) - HOUR, moment)
    base = pl.DataFrame(
        {
            "_rec": np.arange(m),
            "who": who,
            "lead_who": lead_who,
            "what": what,
            "company_idx": company,
            "owner_idx": task_owner,
            "subject": subject,
            "subtype": subtype,
            "call_type": np.where(
                subtype == "Call", np.where(rng.random(m) < 0.85, "Outbound", "Inbound"), ""
            ),
            "priority": np.where(rng.random(m) < 0.15, "High", "Normal"),
            "duration": np.where(subtype == "Call", rng.lognormal(5.6, 0.7, m).astype(np.int64), -1),
            "description": pick(rng, NOTES, m),
            "_created": created,
            "done_at": moment,
        }
    ).with_columns(pl.col("duration").replace(-1, None), pl.col("call_type").replace("", None))
    base = dirt.free_text(base, "description", rng, dirt_rate)
    times = np.stack([np.where(planned, created, NULL), moment], 1)
    done = np.zeros(times.shape, dtype=bool)
    done[:, 1] = True
    tasks = sort_versions(explode_slots(base, times, {"done": done}))

    e_parent, e_time = spread(n_event, start, end)
    k = len(e_parent)
    e_company = comp_idx[e_parent]
    minutes = pick(rng, ("30", "60", "90"), k, p=np.array([0.5, 0.4, 0.1])).astype(np.int64)
    location = pick(rng, ("Zoom", "Microsoft Teams", "Google Meet", "Customer office", "Our office"), k)
    events = pl.DataFrame(
        {
            "_rec": np.arange(k),
            "who": pick_person(rng, people, e_company, e_time, n_comp),
            "what": opp_rec[e_parent],
            "company_idx": e_company,
            "owner_idx": owner[e_parent],
            "subject": pick(
                rng, ("Demo", "Discovery meeting", "Executive briefing", "Negotiation meeting"), k
            ),
            "start_at": e_time,
            "minutes": minutes,
            "location": location,
            "_created": e_time - (rng.exponential(4, k) * DAY).astype(np.int64) - HOUR,
        }
    ).with_columns(_ts=pl.col("_created"))
    return tasks, sort_versions(events)


def _render_task(v: pl.DataFrame) -> pl.DataFrame:
    done = pl.col("done")
    return v.select(
        sf_id(PREFIX["Task"], "_rec").alias("Id"),
        pl.when(pl.col("lead_who") >= 0)
        .then(sf_id(PREFIX["Lead"], "lead_who"))
        .otherwise(sf_id(PREFIX["Contact"], "who"))
        .alias("WhoId"),
        pl.when(pl.col("what") >= 0)
        .then(sf_id(PREFIX["Opportunity"], "what"))
        .otherwise(sf_id(PREFIX["Account"], "company_idx"))
        .alias("WhatId"),
        sf_id(PREFIX["Account"], "company_idx").alias("AccountId"),
        sf_id(PREFIX["User"], "owner_idx").alias("OwnerId"),
        pl.col("subject").alias("Subject"),
        pl.col("subtype").replace({"Task": "Other"}).alias("Type"),
        pl.col("subtype").alias("TaskSubtype"),
        pl.col("call_type").alias("CallType"),
        pl.when(done).then(pl.lit("Completed")).otherwise(pl.lit("Not Started")).alias("Status"),
        pl.col("priority").alias("Priority"),
        day("done_at").alias("ActivityDate"),
        pl.when(done).then(ts("done_at")).alias("CompletedDateTime"),
        pl.col("duration").alias("CallDurationInSeconds"),
        pl.col("description").alias("Description"),
        pl.lit(False).alias("IsDeleted"),
        ts("_created").alias("CreatedDate"),
        ts("_ts").alias("LastModifiedDate"),
        ts("_ts").alias("SystemModstamp"),
    )


def _render_event(v: pl.DataFrame) -> pl.DataFrame:
    return (
        v.select(
            sf_id(PREFIX["Event"], "_rec").alias("Id"),
            sf_id(PREFIX["Contact"], "who").alias("WhoId"),
            sf_id(PREFIX["Opportunity"], "what").alias("WhatId"),
            sf_id(PREFIX["Account"], "company_idx").alias("AccountId"),
            sf_id(PREFIX["User"], "owner_idx").alias("OwnerId"),
            pl.col("subject").alias("Subject"),
            pl.lit("Meeting").alias("Type"),
            pl.lit("Event").alias("EventSubtype"),
            ts("start_at").alias("StartDateTime"),
            (pl.col("start_at") + pl.col("minutes") * 60).alias("_end"),
            pl.col("minutes").alias("DurationInMinutes"),
            pl.col("location").alias("Location"),
            pl.lit(False).alias("IsDeleted"),
            ts("_created").alias("CreatedDate"),
            ts("_ts").alias("LastModifiedDate"),
            ts("_ts").alias("SystemModstamp"),
        )
        .with_columns(ts("_end").alias("_end"))
        .rename({"_end": "EndDateTime"})
        .select(
            "Id",
            "WhoId",
            "WhatId",
            "AccountId",
            "OwnerId",
            "Subject",
            "Type",
            "EventSubtype",
            "StartDateTime",
            "EndDateTime",
            "DurationInMinutes",
            "Location",
            "IsDeleted",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
        )
    )


# --- cases --------------------------------------------------------------------------------------------------------

CASE_ORIGINS = ("Email", "Phone", "Web", "Chat")
ORIGIN_REPLY_SECONDS = np.array([3.5 * HOUR, 8 * 60, 2.5 * HOUR, 4 * 60])
CASE_SUBJECTS = ("Cannot log in", "Invoice question", "Integration error", "Feature request", "Data export failing",
                 "Password reset", "Slow dashboard", "Billing address change")  # fmt: skip


def support_lifecycle(
    rng, timeline: Timeline, opened: np.ndarray, reply_median: np.ndarray, agent: np.ndarray
):
    """First response, escalation, resolution, reopenings and satisfaction of support cases.

    Returns per-case facts and slot arrays (times, status code, closed flag, reopen count) for
    up to 7 versions: opened, responded, closed, then (reopened, closed again) up to twice.
    """
    n = len(opened)
    first_response = reply_moments(timeline, rng, opened, reply_median, agent)
    escalated = rng.random(n) < 0.12
    work = rng.lognormal(np.log(5 * HOUR), 1.0, n) * np.where(escalated, 3.0, 1.0)
    resolved = timeline.add_business_seconds(first_response, work.astype(np.int64))
    reopens = rng.choice(3, n, p=[0.86, 0.11, 0.03])
    times = np.full((n, 7), NULL, dtype=np.int64)
    status = np.zeros((n, 7), dtype=np.int64)  # 0 New, 1 Working, 2 Escalated, 3 Closed, 4 Reopened
    reopen_count = np.zeros((n, 7), dtype=np.int64)
    times[:, 0], times[:, 1], times[:, 2] = opened, first_response, resolved
    status[:, 1] = np.where(escalated, 2, 1)
    status[:, 2] = 3
    clock = resolved
    for r in (1, 2):
        again = reopens >= r
        reopened = clock + (rng.exponential(3, n) * DAY).astype(np.int64) + HOUR
        reclosed = timeline.add_business_seconds(
            reopened, rng.lognormal(np.log(3 * HOUR), 0.8, n).astype(np.int64)
        )
        times[:, 2 * r + 1] = np.where(again, reopened, NULL)
        times[:, 2 * r + 2] = np.where(again, reclosed, NULL)
        status[:, 2 * r + 1], status[:, 2 * r + 2] = 4, 3
        reopen_count[:, 2 * r + 1 :] += again[:, None]
        clock = np.where(again, reclosed, clock)
    wait_hours = (first_response - opened) / HOUR
    mood = 4.3 - 0.04 * np.minimum(wait_hours, 48) - 0.6 * escalated - 0.5 * reopens + rng.normal(0, 0.9, n)
    satisfaction = np.where(rng.random(n) < 0.45, -1, np.clip(np.round(mood), 1, 5).astype(np.int64))
    final_close = clock
    return {
        "first_response": first_response,
        "escalated": escalated,
        "satisfaction": satisfaction,
        "final_close": final_close,
        "times": times,
        "status": status,
        "reopen_count": reopen_count,
    }


CASE_STATUS = ("New", "Working", "Escalated", "Closed", "Reopened")


def _cases(rng, companies, people, pop, timeline, first_win, dirt_rate):
    n_comp = pop.companies.height
    comp_idx = companies["company_idx"].to_numpy()
    win = first_win[comp_idx]
    cust = comp_idx[win >= 0]
    since = first_win[cust]
    years = np.maximum(timeline.horizon_end - since, 0) / (365.25 * DAY)
    seg = pop.companies["segment"].to_numpy()[cust]
    rate = np.where(seg == "Enterprise", 8.0, np.where(seg == "Mid-Market", 4.0, 1.5))
    parent, _ = repeat_index(rng.poisson(rate * years))
    n = len(parent)
    opened = timeline.sample(rng, since[parent], np.full(n, timeline.horizon_end), "b2b")
    order = np.argsort(opened, kind="stable")
    parent, opened = parent[order], opened[order]
    company = cust[parent]
    agents = pop.owners.filter(pl.col("is_active") & (pl.col("role") == "support"))["owner_idx"].to_numpy()
    agent = rng.choice(agents, n)
    origin_idx = rng.choice(4, n, p=[0.4, 0.25, 0.2, 0.15])
    life = support_lifecycle(rng, timeline, opened, ORIGIN_REPLY_SECONDS[origin_idx], agent)
    contact = pick_person(rng, people, company, opened, n_comp)
    base = pl.DataFrame(
        {
            "_rec": np.arange(n),
            "company_idx": company,
            "contact": contact,
            "owner_idx": agent,
            "origin": np.asarray(CASE_ORIGINS)[origin_idx],
            "priority": pick(rng, ("Low", "Medium", "High"), n, p=np.array([0.3, 0.5, 0.2])),
            "subject": pick(rng, CASE_SUBJECTS, n),
            "_created": opened,
            "first_response": life["first_response"],
            "escalated": life["escalated"],
            "satisfaction": life["satisfaction"],
        }
    ).with_columns(
        description=pl.concat_str(
            [pl.lit("Customer reports: "), pl.col("subject").str.to_lowercase(), pl.lit(".")]
        ),
        satisfaction=pl.col("satisfaction").replace(-1, None),
    )
    base = dirt.free_text(base, "description", rng, dirt_rate)
    times, status, reopen = life["times"], life["status"], life["reopen_count"]
    responded = np.zeros(times.shape, dtype=bool)
    responded[:, 1:] = True
    close_slot = np.where(status == 3, times, NULL)
    versions = explode_slots(
        base,
        times,
        {"status_code": status, "reopen": reopen, "responded": responded, "closed_at": close_slot},
    )
    versions = sort_versions(
        versions.with_columns(
            status=label(pl.col("status_code"), CASE_STATUS),
            is_closed=pl.col("status_code") == 3,
            is_escalated=pl.col("escalated") & (pl.col("_slot") >= 1),
        )
    )
    person = people.select("person_idx", "email", "mobile_nsn", "dial")
    threads = (
        base.filter(pl.col("origin").is_in(["Email", "Web", "Chat"]))
        .select("_rec", "contact", "owner_idx", "origin", "_created", "first_response", "subject")
        .join(person, left_on="contact", right_on="person_idx", how="left", maintain_order="left")
    )
    return versions, threads


def _render_case(v: pl.DataFrame) -> pl.DataFrame:
    return v.select(
        sf_id(PREFIX["Case"], "_rec").alias("Id"),
        (pl.col("_rec") + 1000).cast(pl.String).str.zfill(8).alias("CaseNumber"),
        sf_id(PREFIX["Account"], "company_idx").alias("AccountId"),
        sf_id(PREFIX["Contact"], "contact").alias("ContactId"),
        sf_id(PREFIX["User"], "owner_idx").alias("OwnerId"),
        pl.col("origin").alias("Origin"),
        pl.col("status").alias("Status"),
        pl.col("priority").alias("Priority"),
        pl.col("subject").alias("Subject"),
        pl.col("description").alias("Description"),
        pl.col("is_escalated").alias("IsEscalated"),
        pl.col("is_closed").alias("IsClosed"),
        ts("closed_at").alias("ClosedDate"),
        pl.when(pl.col("responded")).then(ts("first_response")).alias("FirstResponseAt__c"),
        pl.col("reopen").alias("ReopenCount__c"),
        pl.when(pl.col("is_closed")).then(pl.col("satisfaction")).alias("SatisfactionScore__c"),
        pl.lit(False).alias("IsDeleted"),
        ts("_created").alias("CreatedDate"),
        ts("_ts").alias("LastModifiedDate"),
        ts("_ts").alias("SystemModstamp"),
    )
