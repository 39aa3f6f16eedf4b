"""Start the dashboard: `python -m dashboard.launch [options of streamlit run]`, what `make run` and the browser
tests do. It is `streamlit run app.py`, plus one thing: the engine and torch are imported in a background thread
while the server starts. Streamlit imports a page's modules only when the first browser session runs it, so
without this a user who opens the page as soon as the server answers waits for those imports (about 2 s on a
2-core machine) before the first page draws."""
from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path

from streamlit.web import cli

APP = Path(__file__).resolve().parent.parent / "app.py"
# Slow to import, and imported by every first page: torch, and the sidebar's and Forget set page's modules with
# the engine behind them.
WARM = ("torch", "dashboard.sidebar", "dashboard.gallery", "dashboard.upload")


def _warm() -> None:
    for name in WARM:
        try:
            importlib.import_module(name)
        except Exception:  # the page that imports it reports the problem to the user
            return


def main() -> int:
    threading.Thread(target=_warm, name="warm-imports", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
