"""How long the dashboard (`python -m dashboard.launch`, what `make run` starts) takes until a browser shows the Forget
set page with its gallery and both baselines shown as trained. With the checkpoints cached this is a later start;
with an empty `MU_CHECKPOINTS` folder it is a first start, which trains the Original and Retrained models in the
background. A benchmark command, not a test:

    .venv/bin/python scripts/startup_time.py
    MU_CHECKPOINTS=/tmp/empty .venv/bin/python scripts/startup_time.py   # a first start

Needs Debian's chromium (`make browser`), which is started before the server, as a user's browser is already
open. Prints the seconds from the server's start to its health check, to the browser having the page, to the
sidebar, the gallery and both baselines shown as trained, and the machine's load average before and after (other
work on the machine slows both starts)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dashboard.server import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Server  # noqa: E402  (run as a script)


def main() -> int:
    argparse.ArgumentParser(description=__doc__).parse_args()
    load = os.getloadavg()[0]
    with sync_playwright() as pw:
        # the user's browser is open before the server starts: its own start-up is not the app's
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        started = time.perf_counter()
        server = Server(os.environ.copy(), Path(os.devnull))
        server.start()
        try:
            marks = {"the server answers its health check": time.perf_counter() - started}
            page.goto(server.url, wait_until="domcontentloaded")
            marks["the browser has the app's page"] = time.perf_counter() - started
            expect(page.get_by_test_id("stSidebar").get_by_text("Face unlearning")).to_be_visible(timeout=900_000)
            marks["the sidebar draws"] = time.perf_counter() - started
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=900_000)
            marks["the gallery draws"] = time.perf_counter() - started
            for model in ("Original (trained on all training photos)",
                          "Retrained (from scratch without the forget set)"):
                expect(page.get_by_text(f"{model}: trained")).to_be_visible(timeout=900_000)
            marks["both baselines show as trained"] = time.perf_counter() - started
        finally:
            server.stop()
            browser.close()
    health = marks["the server answers its health check"]
    for what, at in marks.items():
        print(f"{at:6.1f} s  {what}" + (f" ({at - health:.1f} s after the health check)" if at != health else ""))
    print(f"load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs, "
          f"torch default threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
