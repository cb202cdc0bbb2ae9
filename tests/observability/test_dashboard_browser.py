"""The dashboard in a real headless Chromium (Debian's), against a gateway with traffic.

Needs `/usr/bin/chromium` (`apt-get install -y chromium`); `.ci/run` installs it. The test
fails, rather than skips, when it is missing.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from switchpoint.server.background import BackgroundServer
from tests.fakes import OpenAIFake
from tests.observability.stack import client, gateway_config, running_gateway

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MASTER = "browser-test-master-key"
USER: list[Any] = [{"role": "user", "content": "hello"}]


def chromium_path() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    assert path, "Chromium is missing: apt-get install -y chromium (see .ci/run)"
    return path


class Traffic:
    """Requests at a steady pace from a background thread, until stopped."""

    def __init__(self, server: BackgroundServer) -> None:
        self._sdk = client(server, api_key=MASTER)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sent = 0

    def _run(self) -> None:
        workloads = ["primary", "backup", "primary"]
        while not self._stop.is_set():
            workload = workloads[self.sent % len(workloads)]
            task = {"x-switchpoint-task-id": f"task-{self.sent // 3}"}
            try:
                if self.sent % 2:
                    self._sdk.chat.completions.create(
                        model=workload, messages=USER, extra_headers=task
                    )
                else:
                    for _ in self._sdk.chat.completions.create(
                        model=workload, messages=USER, stream=True, extra_headers=task
                    ):
                        pass
            except Exception:
                pass  # failures are part of the picture
            self.sent += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def backup_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


def breaker_state(page: Page, target: str) -> str | None:
    return page.get_attribute(f'.breaker[data-target="{target}"]', "data-state")


def test_dashboard_renders_live_and_shows_a_breaker_opening(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake, tmp_path: Path
) -> None:
    executable = chromium_path()
    openai_fake.input_tokens, openai_fake.output_tokens = 120, 30
    backup_fake.input_tokens, backup_fake.output_tokens = 120, 30
    config = gateway_config(openai_fake, backup_fake, ledger_path=tmp_path / "ledger.db")
    with (
        running_gateway(config, {"SWITCHPOINT_MASTER_KEY": MASTER}) as server,
        Traffic(server) as traffic,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems: list[str] = []

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    problems.append(message.text)

            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(str(error)))

            # The master key is set: the page asks for it first.
            response = page.goto(server.base_url + "/ui")
            assert response is not None and response.status == 401
            page.fill("#key", MASTER)
            page.click("button[type=submit]")
            page.wait_for_selector("#status.live", timeout=15_000)
            # 401 of the login page is an expected "failed resource" console line.
            problems.clear()

            # Charts fill in as traffic flows.
            # (Selectors, not wait_for_function: the page's CSP rightly forbids eval.)
            for selector in (
                '#chart-traffic-workload[data-points]:not([data-points="0"])',
                '#chart-latency[data-points]:not([data-points="0"])',
                '#chart-cost[data-bars]:not([data-bars="0"])',
            ):
                page.wait_for_selector(selector, state="attached", timeout=20_000)
            assert page.locator("#chart-traffic-workload path.series").count() >= 2
            assert page.locator("#chart-traffic-model path.series").count() >= 2
            assert page.locator("#chart-latency path.series").count() >= 2
            assert page.locator("#chart-cost rect.bar").count() >= 2
            assert page.locator("#table-recent tbody tr").count() >= 1
            page.wait_for_selector("#ledger table", timeout=20_000)
            assert "sqlite" in page.inner_text("#ledger")
            assert breaker_state(page, "main/gpt-primary") == "closed"
            assert traffic.sent > 0

            # A provider goes down: the breaker opens and the panel says so.
            openai_fake.down(model="gpt-primary")
            page.wait_for_selector(
                '.breaker[data-target="main/gpt-primary"][data-state="open"]', timeout=20_000
            )
            assert breaker_state(page, "backup/gpt-backup") == "closed"
            assert "closed → open" in page.inner_text("#transitions")
            page.wait_for_selector(
                '#chart-fallback-reasons[data-bars]:not([data-bars="0"])',
                state="attached",
                timeout=20_000,
            )
            assert page.inner_text("#kpi-breakers") == "1"
            time.sleep(2.5)  # one more refresh, to catch errors in steady polling
            assert problems == []
        finally:
            browser.close()


def test_without_a_ledger_the_page_says_so(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    executable = chromium_path()
    with (
        running_gateway(gateway_config(openai_fake, backup_fake)) as server,
        sync_playwright() as playwright,
    ):
        client(server).chat.completions.create(model="primary", messages=USER)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            response = page.goto(server.base_url + "/ui")
            assert response is not None and response.status == 200
            page.wait_for_selector("#status.live", timeout=15_000)
            assert "No ledger is attached" in page.inner_text("#ledger")
            assert page.locator("#table-recent tbody tr").count() == 1
            assert problems == []
        finally:
            browser.close()
