"""The simulated company: its staff (owners, agents), its B2B companies and their people, its consumers.

Everything here is a column of numpy arrays or a polars frame, drawn in bulk from one seeded stream
per concern, so one concern can change without shifting the draws of another.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from warehouse.generate.config import COMPANY_SHARE, COUNTRIES, DEFAULT_END_DATE, HORIZON_START
from warehouse.generate.timeline import DAY, Timeline, epoch_seconds

# Customers acquired after the default end date, on top of the requested number, so that nightly
# deltas past it still bring new customers while the default extract holds the requested count.
LATE_SHARE = 0.15

FIRST_NAMES = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Paul",
    "Emily",
    "Steven",
    "Donna",
    "Andrew",
    "Michelle",
    "Kenji",
    "Sofia",
    "Lukas",
    "Emma",
    "Hannah",
    "Noah",
    "Olivia",
    "Liam",
    "Mia",
    "Mateo",
    "Lucia",
    "Hugo",
    "Chloe",
    "Oliver",
    "Amelia",
    "Jack",
    "Isla",
    "Leon",
    "Marie",
    "Felix",
    "Anna",
    "Yuki",
    "Aiko",
    "Raj",
    "Priya",
    "Wei",
    "Mei",
    "Omar",
    "Fatima",
    "Diego",
    "Valentina",
    "Sven",
    "Ingrid",
    "Sean",
    "Aoife",
    "Chen",
    "Ana",
    "Pedro",
    "Camila",
    "Luca",
    "Giulia",
    "Pierre",
    "Camille",
    "Jan",
    "Eva",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Mueller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Dubois",
    "Moreau",
    "Laurent",
    "Rossi",
    "Russo",
    "Ferrari",
    "Bianchi",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Watanabe",
    "Kim",
    "Park",
    "Nguyen",
    "Singh",
    "Patel",
    "Silva",
    "Santos",
    "Oliveira",
    "Fernandez",
    "Murphy",
    "Kelly",
    "OBrien",
    "Byrne",
    "Andersson",
    "Johansson",
    "Nilsson",
    "Jansen",
    "DeVries",
    "Bakker",
    "Novak",
    "Kowalski",
    "Cohen",
    "Levi",
]
COMPANY_WORDS_A = [
    "Blue",
    "Red",
    "Silver",
    "Golden",
    "North",
    "South",
    "East",
    "West",
    "Bright",
    "Rapid",
    "Prime",
    "Summit",
    "Harbor",
    "River",
    "Stone",
    "Iron",
    "Cedar",
    "Maple",
    "Oak",
    "Pine",
    "Falcon",
    "Eagle",
    "Atlas",
    "Nova",
    "Vertex",
    "Apex",
    "Pioneer",
    "Unity",
    "Quantum",
    "Vector",
    "Orbit",
    "Lumen",
    "Polar",
    "Coral",
]
COMPANY_WORDS_B = [
    "Logistics",
    "Analytics",
    "Systems",
    "Foods",
    "Health",
    "Labs",
    "Energy",
    "Capital",
    "Media",
    "Robotics",
    "Software",
    "Retail",
    "Motors",
    "Pharma",
    "Networks",
    "Foundry",
    "Textiles",
    "Dynamics",
    "Partners",
    "Ventures",
    "Solutions",
    "Works",
    "Supply",
    "Studios",
    "Bio",
    "Finance",
]
COMPANY_SUFFIX = ("Inc", "LLC", "Ltd", "GmbH", "Corp", "Group", "Co", "SA", "AG", "BV", "Pty Ltd", "")
INDUSTRIES = (
    "Technology", "Manufacturing", "Healthcare", "Financial Services", "Retail", "Education",
    "Media", "Energy", "Transportation", "Hospitality", "Construction", "Telecommunications",
)  # fmt: skip
TITLES = (
    "CEO", "CTO", "CFO", "VP Sales", "VP Marketing", "Head of Operations", "IT Manager", "Procurement Manager",
    "Marketing Manager", "Sales Director", "Operations Analyst", "Office Manager", "Software Engineer",
)  # fmt: skip
CONSUMER_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "aol.com",
)
CITIES = {
    "US": ("New York", "San Francisco", "Chicago", "Austin", "Seattle", "Boston"),
    "CA": ("Toronto", "Vancouver", "Montreal"),
    "GB": ("London", "Manchester", "Edinburgh"),
    "DE": ("Berlin", "Munich", "Hamburg"),
    "FR": ("Paris", "Lyon", "Toulouse"),
    "NL": ("Amsterdam", "Rotterdam", "Utrecht"),
    "ES": ("Madrid", "Barcelona", "Valencia"),
    "IT": ("Rome", "Milan", "Turin"),
    "IE": ("Dublin", "Cork"),
    "SE": ("Stockholm", "Gothenburg"),
    "AU": ("Sydney", "Melbourne", "Brisbane"),
    "JP": ("Tokyo", "Osaka"),
    "SG": ("Singapore",),
    "BR": ("Sao Paulo", "Rio de Janeiro"),
    "MX": ("Mexico City", "Guadalajara"),
    "AR": ("Buenos Aires", "Cordoba"),
}
REGIONS = ("North America", "EMEA", "APAC", "LATAM")
STAFF_DOMAIN = "altamira-demo.com"


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent, reproducible random stream per concern."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], n: int, p: np.ndarray | None = None):
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def country_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "country_idx": list(range(len(COUNTRIES))),
            "country": [c.code for c in COUNTRIES],
            "country_name": [c.name for c in COUNTRIES],
            "country_alpha3": [c.alpha3 for c in COUNTRIES],
            "region": [c.region for c in COUNTRIES],
            "currency": [c.currency for c in COUNTRIES],
            "dial": [c.dial for c in COUNTRIES],
            "trunk_zero": [c.trunk_zero for c in COUNTRIES],
        }
    )


def draw_countries(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    weights = np.array([c.weight_b2b if kind == "b2b" else c.weight_b2c for c in COUNTRIES], dtype=float)
    return rng.choice(len(COUNTRIES), size=n, p=weights / weights.sum())


def draw_phone_numbers(rng: np.random.Generator, country_idx: np.ndarray) -> np.ndarray:
    """National significant numbers that the phonenumbers library accepts as valid."""
    out = np.empty(len(country_idx), dtype=object)
    for i, c in enumerate(COUNTRIES):
        rows = np.flatnonzero(country_idx == i)
        if not len(rows):
            continue
        prefix = pick(rng, c.prefixes, len(rows))
        low, high = 2 * 10 ** (c.random_digits - 1), 10**c.random_digits
        digits = rng.integers(low, high, len(rows)).astype(str)
        out[rows] = prefix + digits.astype(object)
    return out


def draw_cities(rng: np.random.Generator, country_idx: np.ndarray) -> np.ndarray:
    out = np.empty(len(country_idx), dtype=object)
    for i, c in enumerate(COUNTRIES):
        rows = np.flatnonzero(country_idx == i)
        if len(rows):
            out[rows] = pick(rng, CITIES[c.code], len(rows))
    return out


@dataclass
class Population:
    owners: pl.DataFrame
    companies: pl.DataFrame
    people: pl.DataFrame
    consumers: pl.DataFrame


def acquisition_moments(rng: np.random.Generator, timeline: Timeline, n: int, kind: str) -> np.ndarray:
    """First-seen moments: ``n`` customers up to the default end date, LATE_SHARE more after it."""
    n_late = round(n * LATE_SHARE)
    cut = epoch_seconds(DEFAULT_END_DATE) + DAY - 1
    low = np.concatenate([np.full(n, timeline.origin), np.full(n_late, cut + 1)])
    high = np.concatenate([np.full(n, cut), np.full(n_late, timeline.horizon_end)])
    return timeline.sample(rng, low, high, kind)


def build_population(seed: int, customers: int, timeline: Timeline) -> Population:
    n_companies = max(5, round(customers * COMPANY_SHARE))
    n_consumers = customers - n_companies
    owners = _owners(stream(seed, "owners"), n_companies, customers)
    companies = _companies(stream(seed, "companies"), n_companies, timeline, owners)
    people = _people(stream(seed, "people"), companies, timeline)
    consumers = _consumers(stream(seed, "consumers"), n_consumers, timeline)
    return Population(owners, companies, people, consumers)


def _owners(rng: np.random.Generator, n_companies: int, customers: int) -> pl.DataFrame:
    n_sales = max(8, round(n_companies / 120))
    n_support = max(6, round(customers / 2500))
    n_marketing = max(2, round(n_sales / 6))
    n = n_sales + n_support + n_marketing
    role = np.array(["sales"] * n_sales + ["support"] * n_support + ["marketing"] * n_marketing)
    first = pick(rng, FIRST_NAMES, n)
    last = pick(rng, LAST_NAMES, n)
    region = np.where(role == "sales", np.asarray(REGIONS)[np.arange(n) % 4], "")
    team = np.where(
        role == "sales",
        np.char.add("Sales ", region.astype(str)),
        np.where(role == "support", "Customer Support", "Marketing"),
    )
    title = np.where(
        role == "sales",
        pick(rng, ("Account Executive", "Sales Development Rep", "Senior Account Executive"), n),
        np.where(
            role == "support", pick(rng, ("Support Agent", "Senior Support Agent"), n), "Marketing Manager"
        ),
    )
    created = epoch_seconds(HORIZON_START) - rng.integers(30, 900, n) * DAY + rng.integers(13, 22, n) * 3600
    # A few staff left before the horizon: they exist in the systems but own nothing new.
    active = rng.random(n) > 0.06
    active[: min(n, 4)] = True
    return pl.DataFrame(
        {
            "owner_idx": np.arange(n),
            "role": role,
            "first_name": first,
            "last_name": last,
            "team_name": team,
            "region": region,
            "title": title,
            "is_active": active,
            "created": created,
            "in_hubspot": (role != "support") | (rng.random(n) < 0.3),
        }
    ).with_columns(
        email=pl.format(
            "{}.{}{}@" + STAFF_DOMAIN,
            pl.col("first_name").str.to_lowercase(),
            pl.col("last_name").str.to_lowercase(),
            pl.col("owner_idx"),
        )
    )


def _companies(rng: np.random.Generator, n: int, timeline: Timeline, owners: pl.DataFrame) -> pl.DataFrame:
    first_seen = acquisition_moments(rng, timeline, n, "b2b")
    n = len(first_seen)
    country_idx = draw_countries(rng, n, "b2b")
    employees = np.maximum(1, np.round(np.exp(rng.normal(3.6, 1.6, n)))).astype(np.int64)
    segment = np.where(employees >= 1000, "Enterprise", np.where(employees >= 200, "Mid-Market", "SMB"))
    revenue = np.round(employees * 140_000 * np.exp(rng.normal(0, 0.5, n)), -3)
    name = (
        pick(rng, COMPANY_WORDS_A, n)
        + " "
        + pick(rng, COMPANY_WORDS_B, n)
        + " "
        + pick(rng, COMPANY_SUFFIX, n)
    )
    systems = rng.choice(3, size=n, p=[0.5, 0.2, 0.3])  # 0 Salesforce only, 1 HubSpot only, 2 both
    sf_created = np.where(
        systems == 2, first_seen + (rng.exponential(45, n) * DAY).astype(np.int64), first_seen
    )
    active_owners = owners.filter(pl.col("is_active") & (pl.col("role") == "sales"))
    region_arr = np.asarray([c.region for c in COUNTRIES])[country_idx]
    owner_idx = np.empty(n, dtype=np.int64)
    for region in REGIONS:
        pool = active_owners.filter(pl.col("region") == region)["owner_idx"].to_numpy()
        if not len(pool):
            pool = active_owners["owner_idx"].to_numpy()
        rows = np.flatnonzero(region_arr == region)
        owner_idx[rows] = rng.choice(pool, len(rows))
    frame = pl.DataFrame(
        {
            "company_idx": np.arange(n),
            "name": name,
            "industry": pick(rng, INDUSTRIES, n),
            "employees": employees,
            "segment": segment,
            "annual_revenue": revenue,
            "country_idx": country_idx,
            "city": draw_cities(rng, country_idx),
            "phone_nsn": draw_phone_numbers(rng, country_idx),
            "in_salesforce": systems != 1,
            "in_hubspot": systems != 0,
            "first_seen": first_seen,
            "sf_created": sf_created,
            "owner_idx": owner_idx,
        }
    ).join(country_table(), on="country_idx", how="left", maintain_order="left")
    slug = (
        pl.col("name")
        .str.to_lowercase()
        .str.replace_all(r" (inc|llc|ltd|gmbh|corp|group|co|sa|ag|bv|pty ltd)$", "")
    )
    slug = slug.str.strip_chars().str.replace_all(" ", "")
    tld = (
        pl.when(pl.col("country") == "US")
        .then(pl.lit(".com"))
        .otherwise(pl.concat_str([pl.lit("."), pl.col("country").str.to_lowercase()]))
    )
    frame = frame.with_columns(domain_base=pl.concat_str([slug, tld]))
    dup_rank = pl.col("company_idx").rank("ordinal").over("domain_base") - 1
    return frame.with_columns(
        domain=pl.when(dup_rank == 0)
        .then(pl.col("domain_base"))
        .otherwise(pl.concat_str([slug, dup_rank.cast(pl.String), tld]))
    ).drop("domain_base")


def _people(rng: np.random.Generator, companies: pl.DataFrame, timeline: Timeline) -> pl.DataFrame:
    extra = np.where(
        companies["segment"].to_numpy() == "Enterprise",
        3.0,
        np.where(companies["segment"].to_numpy() == "Mid-Market", 1.8, 0.9),
    )
    per_company = 1 + rng.poisson(extra)
    company_idx = np.repeat(companies["company_idx"].to_numpy(), per_company)
    n = len(company_idx)
    rank = np.arange(n) - np.repeat(np.cumsum(per_company) - per_company, per_company)
    first_seen = companies["first_seen"].to_numpy()[company_idx]
    # The first person arrives with the company; colleagues join the conversation later.
    joined = np.where(rank == 0, first_seen, first_seen + (rng.exponential(120, n) * DAY).astype(np.int64))
    first = pick(rng, FIRST_NAMES, n)
    last = pick(rng, LAST_NAMES, n)
    frame = (
        pl.DataFrame(
            {
                "person_idx": np.arange(n),
                "company_idx": company_idx,
                "is_primary": rank == 0,
                "first_name": first,
                "last_name": last,
                "title": pick(rng, TITLES, n),
                "joined": joined,
                "mobile_nsn": draw_phone_numbers(rng, companies["country_idx"].to_numpy()[company_idx]),
                "direct_nsn": draw_phone_numbers(rng, companies["country_idx"].to_numpy()[company_idx]),
                "has_mobile": rng.random(n) < 0.5,
            }
        )
        .join(
            companies.select(
                "company_idx",
                "domain",
                "country_idx",
                "country",
                "country_name",
                "country_alpha3",
                "dial",
                "trunk_zero",
                "city",
                "phone_nsn",
                "in_salesforce",
                "in_hubspot",
                "owner_idx",
                "sf_created",
                "first_seen",
            ),
            on="company_idx",
            how="left",
            maintain_order="left",
        )
        .with_columns(sf_joined=pl.max_horizontal("joined", "sf_created"))
    )
    local = pl.concat_str(
        [
            pl.col("first_name").str.to_lowercase(),
            pl.lit("."),
            pl.col("last_name").str.to_lowercase().str.replace_all("'", ""),
        ]
    )
    frame = frame.with_columns(local=local)
    dup_rank = pl.col("person_idx").rank("ordinal").over(["domain", "local"]) - 1
    return frame.with_columns(
        email=pl.when(dup_rank == 0)
        .then(pl.concat_str([pl.col("local"), pl.lit("@"), pl.col("domain")]))
        .otherwise(pl.concat_str([pl.col("local"), dup_rank.cast(pl.String), pl.lit("@"), pl.col("domain")]))
    ).drop("local")


def _consumers(rng: np.random.Generator, n: int, timeline: Timeline) -> pl.DataFrame:
    acquired = acquisition_moments(rng, timeline, n, "b2c")
    n = len(acquired)
    country_idx = draw_countries(rng, n, "b2c")
    first = pick(rng, FIRST_NAMES, n)
    last = pick(rng, LAST_NAMES, n)
    frame = pl.DataFrame(
        {
            "consumer_idx": np.arange(n),
            "first_name": first,
            "last_name": last,
            "country_idx": country_idx,
            "city": draw_cities(rng, country_idx),
            "phone_nsn": draw_phone_numbers(rng, country_idx),
            "provider": pick(rng, CONSUMER_DOMAINS, n),
            "acquired": acquired,
            "in_hubspot": rng.random(n) < 0.3,
            "handle_style": rng.integers(0, 3, n),
        }
    ).join(country_table(), on="country_idx", how="left", maintain_order="left")
    lower_first = pl.col("first_name").str.to_lowercase()
    lower_last = pl.col("last_name").str.to_lowercase().str.replace_all("'", "")
    return frame.with_columns(
        email=pl.concat_str(
            [
                lower_first,
                pl.lit("."),
                lower_last,
                pl.col("consumer_idx").cast(pl.String),
                pl.lit("@"),
                pl.col("provider"),
            ]
        ),
        handle=pl.concat_str(
            [
                pl.lit("@"),
                lower_first,
                pl.lit("_"),
                lower_last,
                (pl.col("consumer_idx") % 997).cast(pl.String),
            ]
        ),
    )
