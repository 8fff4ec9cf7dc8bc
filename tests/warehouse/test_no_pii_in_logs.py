"""A demo run leaves no personal data in logs, reports or error messages.

Generates a tiny dirty company, runs the commands an operator runs (ingest, two nightlies with a delta between
them, verify, restore, a failing query), then collects every e-mail address, phone number and personal name
from the landed lake (and its rejects) and searches every text file the run left outside the lake and the
warehouse (run logs and reports, dbt logs and artefacts, the audit trail, backup notes, load records, the
dashboard) and every command's output for them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.contracts import load_contracts
from warehouse.generate import generate_extracts

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("no_pii")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DELTA_DAY = date(2026, 11, 16)
CLI = (
    "from warehouse.cli import app, main\n"
    "from warehouse.backups import register\n"
    "if not any(c.name == 'restore' for c in app.registered_commands):\n"
    "    register(app)\n"
    "main()\n"
)
EMAIL = re.compile(r"[a-z0-9._%+'-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
PHONE_RUN = re.compile(r"\+?\d[\d ().-]{6,}\d")
WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
BINARY_SUFFIXES = (".duckdb", ".wal", ".parquet", ".msgpack", ".gpickle")


class PersonalData:
    """The e-mails, phone numbers (digits) and full names to look for, and a scanner that finds them."""

    def __init__(self) -> None:
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.names: set[tuple[str, ...]] = set()

    def add_name(self, *parts: str | None) -> None:
        words = tuple(w.lower() for part in parts if part for w in WORD.findall(part))
        if len(words) >= 2:
            self.names.add(words)

    def add_phone(self, value: str | None) -> None:
        digits = re.sub(r"\D", "", value or "")
        if len(digits) >= 8:
            self.phones.add(digits)

    def find(self, text: str) -> dict[str, set[str]]:
        lowered = text.lower()
        found: dict[str, set[str]] = defaultdict(set)
        found["email"] = set(EMAIL.findall(lowered)) & self.emails
        runs = {re.sub(r"\D", "", run) for run in PHONE_RUN.findall(text)}
        found["phone"] = runs & self.phones
        words = WORD.findall(lowered)
        for size in {len(name) for name in self.names}:
            grams = {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}
            found["name"] |= {" ".join(n) for n in grams & self.names}
        return {kind: values for kind, values in found.items() if values}


def collect_personal_data(lake: Path) -> PersonalData:
    """Every e-mail, phone and person's name in the lake's landed and rejected files, by the contracts'
    ``pii`` markers (company names, marked low sensitivity, are not a person's data)."""
    data = PersonalData()
    con = duckdb.connect()
    for source in load_contracts().values():
        for contract in source.objects.values():
            files = [
                p
                for folder in (
                    lake / source.source / contract.name,
                    lake / "_rejects" / source.source / contract.name,
                )
                for p in folder.glob("*.parquet")
                if p.name != "_empty.parquet"
            ]
            if not files:
                continue
            relation = con.execute(
                "select * from read_parquet(?, union_by_name = true)", [[str(p) for p in files]]
            )
            present = {d[0] for d in relation.description}
            rows = [
                dict(zip([d[0] for d in relation.description], r, strict=True)) for r in relation.fetchall()
            ]
            columns = [c for c in contract.columns if c.name in present]
            emails = [c.name for c in columns if c.pii == "email" or "email" in c.name]
            phones = [c.name for c in columns if c.pii == "phone" or "phone" in c.name]
            first = [c.name for c in columns if re.search(r"first_?name", c.name)]
            last = [c.name for c in columns if re.search(r"last_?name", c.name)]
            whole = [
                c.name
                for c in columns
                if c.pii == "name" and c.sensitivity != "low" and c.name not in first + last
            ]
            for row in rows:
                data.emails |= {str(row[c]).strip().lower() for c in emails if row[c] and "@" in str(row[c])}
                for c in phones:
                    data.add_phone(str(row[c]) if row[c] else None)
                for f, la in zip(first, last, strict=False):
                    data.add_name(row[f], row[la])
                for c in whole:
                    data.add_name(str(row[c]) if row[c] else None)
    con.close()
    return data


def crmwh(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRMWH_", "PYTEST_"))}
    env.update(
        CRMWH_PATHS__INBOX_DIR=str(base / "inbox"),
        CRMWH_PATHS__LAKE_DIR=str(base / "lake"),
        CRMWH_PATHS__WAREHOUSE_PATH=str(base / "warehouse" / "wh.duckdb"),
        CRMWH_PATHS__RUNS_DIR=str(base / "runs"),
        CRMWH_PRIVACY__AUDIT_LOG_PATH=str(base / "audit" / "audit.jsonl"),
        CRMWH_PRIVACY__SALT_PATH=str(base / "privacy" / "salt"),
        CRMWH_PRIVACY__TOMBSTONES_PATH=str(base / "privacy" / "tombstones.jsonl"),
        CRMWH_BACKUPS__BACKUPS_DIR=str(base / "backups"),
    )
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def text_files(*roots: Path) -> list[Path]:
    files = []
    for root in roots:
        candidates = [root] if root.is_file() else root.rglob("*") if root.is_dir() else []
        files += [p for p in candidates if p.is_file() and not p.name.endswith(BINARY_SUFFIXES)]
    return sorted(files)


def test_a_demo_run_leaves_no_personal_data_in_logs_reports_or_errors(tmp_path: Path) -> None:
    base = tmp_path
    generate_extracts(base / "inbox", scale="tiny", seed=5, dirt_rate=0.05)
    generate_extracts(base / "delta", scale="tiny", seed=5, dirt_rate=0.05, as_of=DELTA_DAY)
    # the inbox is consumed: keep a copy of what was delivered to prove the scanner finds what is there
    shutil.copytree(base / "inbox", base / "delivered")
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}

    outputs["ingest"] = crmwh(base, "ingest", "--json")
    assert outputs["ingest"].returncode in (0, 1), outputs["ingest"].stderr[-2000:]
    outputs["nightly 1"] = crmwh(base, "nightly")
    assert outputs["nightly 1"].returncode in (0, 1), outputs["nightly 1"].stderr[-3000:]
    shutil.copytree(base / "delta", base / "inbox", dirs_exist_ok=True)
    outputs["nightly 2"] = crmwh(base, "nightly", "--log-json")
    assert outputs["nightly 2"].returncode in (0, 1), outputs["nightly 2"].stderr[-3000:]
    outputs["verify"] = crmwh(base, "verify")
    assert outputs["verify"].returncode == 0, outputs["verify"].stdout[-3000:]
    outputs["restore --list"] = crmwh(base, "restore", "--list", "--json")
    [kept] = [line for line in outputs["restore --list"].stdout.split('"run_id": "')[1:]]
    first_run = kept.split('"', 1)[0]
    outputs["restore"] = crmwh(base, "restore", "--run", first_run)
    assert outputs["restore"].returncode == 0, outputs["restore"].stderr
    outputs["restore unknown"] = crmwh(base, "restore", "--run", "no-such-run")
    outputs["bad query"] = crmwh(base, "query", "sales", "-m", "no_such_measure", "-r", "customer.nope")
    assert outputs["restore unknown"].returncode != 0 and outputs["bad query"].returncode != 0

    lake = base / "lake"
    personal = collect_personal_data(lake)
    assert len(personal.emails) > 100 and len(personal.phones) > 100 and len(personal.names) > 100
    # the scanner is able to find personal data where it is
    delivered = "\n".join(p.read_text(errors="replace") for p in text_files(base / "delivered"))
    found_in_extracts = personal.find(delivered)
    assert {k: len(v) > 50 for k, v in found_in_extracts.items()} == {
        "email": True,
        "phone": True,
        "name": True,
    }

    scanned = text_files(
        base / "runs",
        base / "audit",
        base / "backups",
        base / "warehouse",
        lake / "_manifest",
        lake / "_quarantine",
    )
    assert any(p.name == "audit.jsonl" for p in scanned)
    assert any(p.suffix == ".html" for p in scanned) and any(p.name == "dbt.log" for p in scanned)
    leaks = {}
    for path in scanned:
        hits = personal.find(path.read_text(encoding="utf-8", errors="replace"))
        if hits:
            leaks[str(path.relative_to(base))] = {k: sorted(v)[:3] for k, v in hits.items()}
    for name, result in outputs.items():
        hits = personal.find(result.stdout + result.stderr)
        if hits:
            leaks[f"output of crmwh {name}"] = {k: sorted(v)[:3] for k, v in hits.items()}
    assert leaks == {}, f"personal data found in {len(leaks)} place(s): {leaks}"
    assert len(scanned) > 20
