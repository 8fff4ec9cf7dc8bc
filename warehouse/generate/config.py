"""Fixed facts of the simulated world: its time horizon, scales and reference lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

HORIZON_START = date(2023, 11, 16)
HORIZON_END = date(2027, 12, 31)
DEFAULT_END_DATE = date(2026, 11, 15)

SCALES: dict[str, int] = {"tiny": 300, "small": 10_000, "medium": 100_000, "large": 1_000_000}
MIN_CUSTOMERS = 50

# Share of customers that are companies (B2B); the rest are consumers (B2C).
COMPANY_SHARE = 0.15


@dataclass(frozen=True)
class Country:
    code: str
    alpha3: str
    name: str
    region: str
    currency: str
    dial: str
    # national significant number: fixed leading digits + count of random digits after them
    prefixes: tuple[str, ...]
    random_digits: int
    # written with a trunk "0" when dialled nationally (e.g. 020 7946 0958)
    trunk_zero: bool
    weight_b2b: float
    weight_b2c: float


COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        "USA",
        "United States",
        "North America",
        "USD",
        "1",
        ("212", "415", "617", "312", "206", "512", "303", "404", "305", "702"),
        7,
        False,
        40,
        45,
    ),
    Country(
        "CA",
        "CAN",
        "Canada",
        "North America",
        "CAD",
        "1",
        ("416", "604", "514", "403", "613"),
        7,
        False,
        6,
        7,
    ),
    Country("GB", "GBR", "United Kingdom", "EMEA", "GBP", "44", ("2079", "2071", "2081"), 6, True, 10, 10),
    Country("DE", "DEU", "Germany", "EMEA", "EUR", "49", ("30", "40", "89"), 8, True, 9, 8),
    Country("FR", "FRA", "France", "EMEA", "EUR", "33", ("14", "15"), 7, True, 6, 6),
    Country("NL", "NLD", "Netherlands", "EMEA", "EUR", "31", ("20",), 7, True, 3, 3),
    Country("ES", "ESP", "Spain", "EMEA", "EUR", "34", ("91", "93"), 7, False, 3, 3),
    Country("IT", "ITA", "Italy", "EMEA", "EUR", "39", ("06", "02"), 8, False, 3, 3),
    Country("IE", "IRL", "Ireland", "EMEA", "EUR", "353", ("1",), 7, True, 2, 1),
    Country("SE", "SWE", "Sweden", "EMEA", "EUR", "46", ("8",), 8, True, 2, 1),
    Country("AU", "AUS", "Australia", "APAC", "AUD", "61", ("29", "39"), 7, True, 5, 6),
    Country("JP", "JPN", "Japan", "APAC", "USD", "81", ("3",), 8, True, 3, 2),
    Country("SG", "SGP", "Singapore", "APAC", "USD", "65", ("61", "62", "63", "65"), 6, False, 2, 1),
    Country("BR", "BRA", "Brazil", "LATAM", "USD", "55", ("113",), 7, False, 3, 2),
    Country("MX", "MEX", "Mexico", "LATAM", "USD", "52", ("55",), 8, False, 2, 2),
    Country("AR", "ARG", "Argentina", "LATAM", "USD", "54", ("114",), 7, False, 1, 1),
)

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
