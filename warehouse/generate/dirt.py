"""Realistic dirt: what real CRM extracts contain and the ingest layer must survive.

Record-level dirt (e-mail spelling, phone and country formats, bad amounts, date formats) is drawn
once per record in the world, so a record looks the same in a full extract and in every delta.
File-level dirt (exact duplicate rows, rows without an id, a UTF-8 BOM) is drawn per written file.
"""

from __future__ import annotations

import numpy as np
import polars as pl

UTF8_BOM = b"\xef\xbb\xbf"
INVALID_EMAILS = ("n/a", "unknown", "-")


def _draw(rng: np.random.Generator, n: int, rate: float, variants: int) -> np.ndarray:
    """0 = clean, 1..variants = which kind of dirt, with P(dirty) = rate."""
    dirty = rng.random(n) < rate
    return np.where(dirty, rng.integers(1, variants + 1, n), 0)


def _apply(frame: pl.DataFrame, out: str, clean: pl.Expr, dirty: pl.Expr, kind: np.ndarray) -> pl.DataFrame:
    """``clean`` for every row, ``dirty`` (which may read the column ``_kind``) only on the dirty rows.

    Polars evaluates every branch of a when/then chain on every row; computing the dirty variants on
    the few dirty rows only keeps the large scale fast.
    """
    values = frame.select(clean.alias(out)).to_series()
    rows = np.flatnonzero(kind > 0)
    if len(rows):
        subset = frame[rows].with_columns(pl.Series("_kind", kind[rows]))
        values = values.scatter(rows, subset.select(dirty.alias(out)).to_series().cast(values.dtype))
    return frame.with_columns(values)


def emails(frame: pl.DataFrame, column: str, rng: np.random.Generator, rate: float) -> pl.DataFrame:
    """Case changes, stray whitespace and invalid values ('john.doe@', 'n/a')."""
    kind = _draw(rng, frame.height, rate, 4)
    invalid = rng.integers(0, len(INVALID_EMAILS), frame.height)
    e = pl.col(column)
    k = pl.col("_kind")
    dirty = (
        pl.when(e.is_null()).then(None)
        .when(k == 1).then(e.str.to_uppercase())
        .when(k == 2).then(pl.concat_str([pl.lit(" "), e, pl.lit("  ")]))
        .when(k == 3).then(pl.concat_str([e.str.split("@").list.first(), pl.lit("@")]))
        .otherwise(pl.col("_invalid").replace_strict(dict(enumerate(INVALID_EMAILS)), return_dtype=pl.String))
    )  # fmt: skip
    frame = frame.with_columns(pl.Series("_invalid", invalid))
    return _apply(frame, column, e, dirty, kind).drop("_invalid")


def capitalised_email(column: str) -> pl.Expr:
    """How people type their address into a web form: 'John.Doe@Acme.com'."""
    e = pl.col(column)
    parts = e.str.split("@")
    local = parts.list.first().str.split(".").list.eval(pl.element().str.to_titlecase()).list.join(".")
    domain = parts.list.last().str.to_titlecase()
    return pl.concat_str([local, pl.lit("@"), domain])


def capitalise_some(frame: pl.DataFrame, column: str, rng: np.random.Generator, share: float) -> pl.DataFrame:
    """Not dirt but habit: a share of people type 'John.Doe@Acme.com' into forms."""
    kind = (rng.random(frame.height) < share).astype(np.int64)
    e = pl.col(column)
    return _apply(
        frame, column, e, pl.when(e.is_null()).then(None).otherwise(capitalised_email(column)), kind
    )


def phone(style: str, nsn: str = "phone_nsn", dial: str = "dial", country: str = "country") -> pl.Expr:
    """A phone number written in one of the styles seen in the wild."""
    n = pl.col(nsn)
    cc = pl.col(dial)
    nanp = cc == "1"
    grouped = pl.concat_str([n.str.slice(0, 3), pl.lit(" "), n.str.slice(3, 3), pl.lit(" "), n.str.slice(6)])
    nanp_dash = pl.concat_str(
        [n.str.slice(0, 3), pl.lit("-"), n.str.slice(3, 3), pl.lit("-"), n.str.slice(6)]
    )
    intl = (
        pl.when(nanp)
        .then(pl.concat_str([pl.lit("+1 "), nanp_dash]))
        .otherwise(pl.concat_str([pl.lit("+"), cc, pl.lit(" "), grouped]))
    )
    if style == "intl":
        return intl
    if style == "e164":
        return pl.concat_str([pl.lit("+"), cc, n])
    if style == "national":
        paren = pl.concat_str(
            [pl.lit("("), n.str.slice(0, 3), pl.lit(") "), n.str.slice(3, 3), pl.lit("-"), n.str.slice(6)]
        )
        return pl.when(nanp).then(paren).otherwise(intl)
    if style == "us_paren":
        return (
            pl.when(nanp)
            .then(
                pl.concat_str(
                    [
                        pl.lit("+1 ("),
                        n.str.slice(0, 3),
                        pl.lit(") "),
                        n.str.slice(3, 3),
                        pl.lit("-"),
                        n.str.slice(6),
                    ]
                )
            )
            .otherwise(pl.concat_str([pl.lit("00"), cc, pl.lit(" "), grouped]))
        )
    if style == "dots":
        dots = pl.concat_str([n.str.slice(0, 3), pl.lit("."), n.str.slice(3, 3), pl.lit("."), n.str.slice(6)])
        return pl.when(nanp).then(dots).otherwise(pl.concat_str([pl.lit("+"), cc, pl.lit("."), n]))
    if style == "trunk":
        trunk = pl.col("trunk_zero")
        return (
            pl.when(trunk)
            .then(pl.concat_str([pl.lit("0"), grouped]))
            .otherwise(pl.concat_str([pl.lit("00"), cc, pl.lit(" "), grouped]))
        )
    raise ValueError(style)


def phones(
    frame: pl.DataFrame,
    out: str,
    clean_style: str,
    rng: np.random.Generator,
    rate: float,
    nsn: str = "phone_nsn",
) -> pl.DataFrame:
    kind = _draw(rng, frame.height, rate, 3)
    k = pl.col("_kind")
    dirty = (
        pl.when(pl.col(nsn).is_null()).then(None)
        .when(k == 1).then(phone("us_paren", nsn))
        .when(k == 2).then(phone("dots", nsn))
        .otherwise(phone("trunk", nsn))
    )  # fmt: skip
    clean = pl.when(pl.col(nsn).is_null()).then(None).otherwise(phone(clean_style, nsn))
    return _apply(frame, out, clean, dirty, kind)


def countries(
    frame: pl.DataFrame, out: str, clean: str, rng: np.random.Generator, rate: float
) -> pl.DataFrame:
    """Countries as names or codes: 'Germany', 'DE', 'deu', 'United States', 'USA'."""
    kind = _draw(rng, frame.height, rate, 4)
    k = pl.col("_kind")
    dirty = (
        pl.when(k == 1).then(pl.col("country"))
        .when(k == 2).then(pl.col("country_alpha3").str.to_lowercase())
        .when(k == 3).then(pl.col("country_alpha3"))
        .otherwise(pl.col("country_name").str.to_uppercase())
    )  # fmt: skip
    return _apply(frame, out, pl.col(clean), dirty, kind)


def amounts(frame: pl.DataFrame, column: str, rng: np.random.Generator, rate: float) -> pl.DataFrame:
    """Money text: mostly '1234.50'; some '$1,234.50', 'N/A' or a typo such as '12,5O.00'."""
    kind = _draw(rng, frame.height, rate, 3)
    value = pl.col(column)
    cents = (value * 100).round(0).cast(pl.Int64)
    whole = cents // 100
    frac = (cents % 100).cast(pl.String).str.zfill(2)
    plain = pl.concat_str([whole.cast(pl.String), pl.lit("."), frac])
    thousands = whole.cast(pl.String).str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse()
    thousands = thousands.str.strip_chars_start(",")
    k = pl.col("_kind")
    dirty = (
        pl.when(k == 1).then(pl.concat_str([pl.lit("$"), thousands, pl.lit("."), frac]))
        .when(k == 2).then(pl.lit("N/A"))
        .otherwise(pl.concat_str([thousands.str.replace(r"0", "O"), pl.lit("O."), frac]))
    )  # fmt: skip
    return _apply(frame, column, plain, dirty, kind)


def order_dates(
    frame: pl.DataFrame, column: str, moment: str, rng: np.random.Generator, rate: float
) -> pl.DataFrame:
    """Mixed timestamp spellings; the only day/month order that is ever ambiguous is the US one."""
    kind = _draw(rng, frame.height, rate, 4)
    t = pl.from_epoch(pl.col(moment), time_unit="s")
    plus_one = pl.from_epoch(pl.col(moment) + 3600, time_unit="s")
    k = pl.col("_kind")
    dirty = (
        pl.when(k == 1).then(t.dt.strftime("%Y-%m-%d"))
        .when(k == 2).then(plus_one.dt.strftime("%Y-%m-%d %H:%M:%S+01:00"))
        .when(k == 3).then(t.dt.strftime("%m/%d/%Y %H:%M"))
        .otherwise(t.dt.strftime("%-d %b %Y"))
    )  # fmt: skip
    return _apply(frame, column, t.dt.strftime("%Y-%m-%dT%H:%M:%SZ"), dirty, kind)


def free_text(frame: pl.DataFrame, column: str, rng: np.random.Generator, rate: float) -> pl.DataFrame:
    """Text that a CSV writer has to quote: embedded line breaks and double quotes."""
    kind = _draw(rng, frame.height, rate, 2)
    text = pl.col(column)
    dirty = (
        pl.when(pl.col("_kind") == 1).then(pl.concat_str([text, pl.lit("\nCustomer wrote:\n\"please call back\"")]))
        .otherwise(pl.concat_str([pl.lit("Re: \""), text, pl.lit("\",\r\nthanks")]))
    )  # fmt: skip
    return _apply(frame, column, text, dirty, kind)
