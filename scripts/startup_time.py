"""How long `streamlit run app.py` takes until a browser shows the Forget set page with its gallery and both
baselines shown as trained. With the checkpoints cached this is a later start; with an empty `MU_CHECKPOINTS`
folder it is a first start, which trains the Original and Retrained models in the background. A benchmark
command, not a test:

    .venv/bin/python scripts/startup_time.py
    MU_CHECKPOINTS=/tmp/empty .venv/bin/python scripts/startup_time.py   # a first start

Needs Debian's chromium (`make browser`). Prints the seconds to the server's health check and to the page, and
the machine's load average before and after (other work on the machine slows both starts)."""
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
    started = time.perf_counter()
    server = Server(os.environ.copy(), Path(os.devnull))
    server.start()
    try:
        health = time.perf_counter() - started
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(server.url)
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=900_000)
            for model in ("Original (trained on all training photos)",
                          "Retrained (from scratch without the forget set)"):
                expect(page.get_by_text(f"{model}: trained")).to_be_visible(timeout=900_000)
            shown = time.perf_counter() - started
            browser.close()
    finally:
        server.stop()
    print(f"server answers its health check after {health:.1f} s")
    print(f"Forget set page with the gallery and both baselines shown as trained after {shown:.1f} s "
          f"({shown - health:.1f} s after the health check)")
    print(f"load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
