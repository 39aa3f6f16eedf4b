"""How long `streamlit run app.py` takes until a browser shows the Forget set page with its gallery and both
baselines shown as trained. With the checkpoints cached this is a later start; with an empty `MU_CHECKPOINTS`
folder it is a first start, which trains the Original and Retrained models in the background. A benchmark
command, not a test:

    .venv/bin/python scripts/startup_time.py [--port 8599]
    MU_CHECKPOINTS=/tmp/empty .venv/bin/python scripts/startup_time.py   # a first start

Needs Debian's chromium (`make browser`). Prints the seconds to the server's health check and to the page."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=8599)
    args = p.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.address", "127.0.0.1", "--server.port", str(args.port),
                               "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True, env=os.environ.copy())
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.1)
        health = time.perf_counter() - started
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=900_000)
            expect(page.get_by_text("Retrained (from scratch without the forget set): trained")).to_be_visible(
                timeout=900_000)
            shown = time.perf_counter() - started
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    print(f"server answers its health check after {health:.1f} s")
    print(f"Forget set page with the gallery and both baselines shown as trained after {shown:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
