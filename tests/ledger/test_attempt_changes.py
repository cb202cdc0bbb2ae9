"""What the gateway changed in the request an attempt sent is in the ledger: the model's
output limit when the client's maximum was capped to it, and the sampling settings the
model refuses; and a ledger written before these columns existed is migrated in place."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import httpx2
import pytest

from switchpoint.ledger import database as database_module
from switchpoint.ledger.database import Database
from switchpoint.ledger.migrations import LATEST_VERSION, MIGRATIONS
from switchpoint.ledger.rows import ATTEMPT_COLUMNS
from switchpoint.ledger.url import parse_ledger_url
from switchpoint.ledger.writer import LedgerWriter
from tests.fakes import OpenAIFake
from tests.ledger import records
from tests.ledger.gateway_setup import PRICES, client, flush, gateway_config, ledger_rows, serving
from tests.ledger.test_cli import config_for, switchpoint

OUTPUT_LIMIT = 1_000
QUESTION = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("stream", [False, True])
def test_an_attempt_records_the_output_cap_and_the_settings_left_out(
    stream: bool, ledger_url: str, openai_fake: OpenAIFake
) -> None:
    openai_fake.reasoning_models = frozenset({"gpt-5.5"})  # refuses `temperature`
    models = {"gpt-5.5": {**PRICES["gpt-5.5"], "output_limit_tokens": OUTPUT_LIMIT}}
    config = gateway_config(openai_fake, ledger_url, models=models)
    with serving(config, openai_fake) as server:
        changed = client(server).chat.completions.with_raw_response.create(
            model="auto", messages=QUESTION, temperature=0.2, max_tokens=5_000, stream=stream
        )
        if stream:
            assert list(changed.parse())  # the whole stream, so the call is finished
        assert changed.headers["x-switchpoint-dropped-params"] == "temperature"
        assert changed.headers["x-switchpoint-output-capped"] == str(OUTPUT_LIMIT)
        # The model is now known to refuse it: the next call sends it without asking.
        unchanged = client(server).chat.completions.with_raw_response.create(
            model="auto", messages=QUESTION, max_tokens=100, stream=stream
        )
        if stream:
            assert list(unchanged.parse())
        assert "x-switchpoint-dropped-params" not in unchanged.headers
        flush(server)
    rows = ledger_rows(
        ledger_url,
        "SELECT a.output_capped, a.dropped_params FROM attempts a "
        "JOIN requests r ON r.request_id = a.request_id ORDER BY r.ts, a.seq",
    )
    assert rows == [(OUTPUT_LIMIT, "temperature"), (None, None)]


def test_the_report_summarises_the_changes_per_model(
    ledger_url: str, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    """`GET /v1/reports/outcomes` and `switchpoint report` (JSON and table) say how many
    of a model's attempts had their output capped and which settings were dropped."""
    openai_fake.reasoning_models = frozenset({"gpt-5.5"})  # refuses `temperature`
    models = {"gpt-5.5": {**PRICES["gpt-5.5"], "output_limit_tokens": OUTPUT_LIMIT}}
    config = gateway_config(openai_fake, ledger_url, models=models)
    with serving(config, openai_fake) as server:
        api = client(server)
        api.chat.completions.create(
            model="auto", messages=QUESTION, temperature=0.2, max_tokens=5_000
        )
        api.chat.completions.create(model="auto", messages=QUESTION, max_tokens=5_000)
        api.chat.completions.create(model="auto", messages=QUESTION, max_tokens=10)
        api.chat.completions.create(model="cost_sensitive", messages=QUESTION, temperature=0.2)
        flush(server)
        answer = httpx2.get(f"{server.base_url}/v1/reports/outcomes", timeout=30)
    assert answer.status_code == 200, answer.text
    expected = [
        {"model": "gpt-5.5", "attempts": 3, "output_capped": 2,
         "dropped_params": {"temperature": 1}},
    ]  # fmt: skip
    assert answer.json()["attempt_changes"] == expected

    env = {"SWITCHPOINT_CONFIG": str(config_for(tmp_path, ledger_url))}
    printed = switchpoint("report", "--format", "json", env=env)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["attempt_changes"] == expected
    table = switchpoint("report", env=env)
    assert table.returncode == 0, table.stderr
    changes = table.stdout[table.stdout.index("requests changed by the gateway") :]
    [row] = [line for line in changes.splitlines() if "gpt-5.5" in line]
    cells = [cell.strip() for cell in row.split("│")[1:5]]
    assert cells == ["gpt-5.5", "3", "2", "temperature (1)"]
    assert "gpt-5.4" not in changes  # nothing was changed for it


def test_a_version_1_ledger_is_migrated_in_place_and_keeps_its_rows(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ledger as the first release left it, with one attempt written then.
    monkeypatch.setattr(database_module, "MIGRATIONS", MIGRATIONS[:1])
    monkeypatch.setattr(database_module, "LATEST_VERSION", 1)
    old = Database(parse_ledger_url(ledger_url)).connect()
    try:
        with old.transaction():
            old.execute(
                "INSERT INTO attempts (request_id, seq, profile, provider, model, reason, "
                "outcome, duration_ms, usage_estimated, cost_known) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ("sp-old", 0, "p", "openai", "gpt-5.5", "first", "ok", 12.5, False, True),
            )
    finally:
        old.close()
    monkeypatch.undo()

    assert LATEST_VERSION >= 2
    versions = ledger_rows(ledger_url, "SELECT version FROM switchpoint_migrations ORDER BY 1")
    assert versions == [(m.version,) for m in MIGRATIONS]
    assert ledger_rows(
        ledger_url, "SELECT output_capped, dropped_params, duration_ms FROM attempts"
    ) == [(None, None, 12.5)]

    writer = LedgerWriter(Database(parse_ledger_url(ledger_url)), flush_interval_s=60)
    writer.start()
    try:
        attempt = records.attempt("p", "gpt-5.5")
        attempt.output_capped = OUTPUT_LIMIT
        attempt.dropped_params = ("temperature", "top_p")
        writer.submit(records.call(attempts=[attempt]))
        assert writer.flush_sync(10)
    finally:
        writer.close(timeout_s=2)
    rows = ledger_rows(
        ledger_url, "SELECT request_id, output_capped, dropped_params FROM attempts ORDER BY 1"
    )
    assert [row[1:] for row in rows if row[0] != "sp-old"] == [(OUTPUT_LIMIT, "temperature,top_p")]


def test_a_worker_still_on_version_1_keeps_writing_to_a_migrated_ledger(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A rolling upgrade: the new release migrated the ledger, an old worker connects.
    Database(parse_ledger_url(ledger_url)).connect().close()
    monkeypatch.setattr(database_module, "MIGRATIONS", MIGRATIONS[:1])
    monkeypatch.setattr(database_module, "LATEST_VERSION", 1)
    with caplog.at_level(logging.WARNING, logger="switchpoint"):
        old = Database(parse_ledger_url(ledger_url)).connect()  # warns, does not fail
    assert "newer than this switchpoint knows" in caplog.text
    try:
        v1_columns = ATTEMPT_COLUMNS[: ATTEMPT_COLUMNS.index("output_capped")]
        written = {
            "request_id": "sp-old-worker",
            "seq": 0,
            "profile": "p",
            "provider": "openai",
            "model": "gpt-5.5",
            "reason": "first",
            "outcome": "ok",
            "duration_ms": 12.5,
            "usage_estimated": False,
            "cost_known": True,
        }
        with old.transaction():
            old.execute(
                f"INSERT INTO attempts ({', '.join(v1_columns)}) "
                f"VALUES ({', '.join('?' for _ in v1_columns)})",
                tuple(written.get(column) for column in v1_columns),
            )
    finally:
        old.close()
    assert ledger_rows(
        ledger_url, "SELECT request_id, output_capped, dropped_params FROM attempts"
    ) == [("sp-old-worker", None, None)]


def test_workers_starting_together_on_a_version_1_ledger_migrate_it_once(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Version 2 adds columns, which cannot be added twice: the workers of a `--workers N`
    # upgrade that start at once must take turns, and only the first applies it.
    with monkeypatch.context() as old_release:
        old_release.setattr(database_module, "MIGRATIONS", MIGRATIONS[:1])
        old_release.setattr(database_module, "LATEST_VERSION", 1)
        Database(parse_ledger_url(ledger_url)).connect().close()
    workers = 6
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            Database(parse_ledger_url(ledger_url)).connect().close()
        except BaseException as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    versions = ledger_rows(ledger_url, "SELECT version FROM switchpoint_migrations ORDER BY 1")
    assert versions == [(migration.version,) for migration in MIGRATIONS]
    assert ledger_rows(ledger_url, "SELECT COUNT(output_capped) FROM attempts") == [(0,)]
