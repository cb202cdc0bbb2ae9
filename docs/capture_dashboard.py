"""Regenerate docs/img/dashboard.png: the dashboard under the offline demo's traffic.

Runs the gateway on simulated vendors, drives the demo's mixed workload through it for
a couple of minutes; one vendor has a short outage in the middle (its breaker opens and
closes again) and goes down again near the end, when /ui is screenshotted in Debian's
headless Chromium (so the picture shows an open breaker and the fallbacks it causes).
Alongside, agent "tasks" of a few calls each report their outcomes to the ledger, so the
cost-per-completed-outcome panel has figures.

    python docs/capture_dashboard.py [--seconds 120] [--out docs/img/dashboard.png]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import orjson
from playwright.sync_api import sync_playwright

from switchpoint.config.schema import LedgerConfig
from switchpoint.demo.driver import drive
from switchpoint.demo.scenario import OUTAGE_PROVIDER, demo_config, mixed_workload
from switchpoint.providers.simulated import SimulatedAdapter
from switchpoint.server.background import BackgroundServer

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def run_tasks(base_url: str, *, seconds: float) -> None:
    """Tasks of three calls each, one workload per task, ending in a reported outcome
    (success more often for the stronger models' workloads)."""
    sdk = openai.OpenAI(base_url=base_url + "/v1", api_key="demo", max_retries=0)
    rng = random.Random(3)
    success = {"terminal_agent": 0.85, "multi_file_refactor": 0.8, "deep_research": 0.75,
               "cost_sensitive": 0.55}
    deadline = time.monotonic() + seconds

    def task(index: int) -> None:
        workload = list(success)[index % len(success)]
        task_id = f"demo-task-{index}"
        for _ in range(3):
            sdk.chat.completions.create(
                model=workload, messages=[{"role": "user", "content": "fix the failing test"}],
                extra_headers={"x-switchpoint-task-id": task_id},
            )
        outcome = "success" if rng.random() < success[workload] else "failure"
        body = orjson.dumps({"task_id": task_id, "outcome": outcome, "kind": "tests_pass"})
        request = urllib.request.Request(base_url + "/v1/outcomes", data=body,
                                         headers={"content-type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()

    with ThreadPoolExecutor(4) as pool:
        index = 0
        while time.monotonic() < deadline:
            list(pool.map(task, range(index, index + 4)))
            index += 4
            time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=12.0)
    parser.add_argument("--out", type=Path, default=Path("docs/img/dashboard.png"))
    args = parser.parse_args()

    ledger_dir = tempfile.mkdtemp(prefix="switchpoint-capture-")
    config = demo_config().model_copy(
        update={"ledger": LedgerConfig(url=f"sqlite:///{ledger_dir}/ledger.db")}
    )
    server = BackgroundServer(config).start()
    assert server.gateway is not None
    outage = server.gateway.adapters[OUTAGE_PROVIDER]
    assert isinstance(outage, SimulatedAdapter)
    total = int(args.rate * args.seconds)
    # Every request in the OpenAI protocol: the screenshot is about the dashboard.
    requests = [dataclasses.replace(r, protocol="openai") for r in mixed_workload(total)]
    down = {total * 4 // 12: True, total * 6 // 12: False, total * 10 // 12: True}

    def on_result(index: int, _result: object) -> None:
        state = down.get(index + 1)
        if state is not None:
            server.call(lambda: setattr(outage, "down", state))

    traffic = threading.Thread(
        target=lambda: asyncio.run(drive(server.base_url, requests, args.rate, on_result))
    )
    traffic.start()
    run_tasks(server.base_url, seconds=args.seconds)
    traffic.join()
    time.sleep(1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1400})
        page.goto(server.base_url + "/ui")
        page.wait_for_selector("#status.live", timeout=15_000)
        page.wait_for_timeout(500)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    server.stop()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
