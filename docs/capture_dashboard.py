"""Regenerate docs/img/dashboard.png: the dashboard under the offline demo's traffic.

Runs the gateway on simulated vendors, drives the demo's mixed workload through it for
a couple of minutes; one vendor has a short outage in the middle (its breaker opens and
closes again) and goes down again near the end, when /ui is screenshotted in Debian's
headless Chromium (so the picture shows an open breaker and the fallbacks it causes).

    python docs/capture_dashboard.py [--seconds 120] [--out docs/img/dashboard.png]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from switchpoint.demo.driver import drive
from switchpoint.demo.scenario import OUTAGE_PROVIDER, demo_config, mixed_workload
from switchpoint.providers.simulated import SimulatedAdapter
from switchpoint.server.background import BackgroundServer

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=12.0)
    parser.add_argument("--out", type=Path, default=Path("docs/img/dashboard.png"))
    args = parser.parse_args()

    server = BackgroundServer(demo_config()).start()
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
