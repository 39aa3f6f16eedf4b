"""Start the dashboard: `python -m dashboard.launch [options of streamlit run]`, what `make run` and the browser
tests do. It is `streamlit run app.py`, plus a background thread started with the server that imports the engine
and torch, then starts training the demo's baselines when they are missing. Streamlit imports a page's modules
only when the first browser session runs it, so without this a user who opens the page as soon as the server
answers waits for those imports (about 2 s on a 2-core machine) before the first page draws, and on a fresh
machine the training would wait for that first session."""
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
    """Import WARM, then start training the demo's baselines when they are missing (what the first browser session
    would do: on a fresh machine the training starts with the server, not when someone first opens the page)."""
    try:
        for name in WARM:
            importlib.import_module(name)
        from dashboard import tasks
        tasks.first_start_job()
    except Exception:  # the first page runs the same code and shows the user what went wrong
        return


def main() -> int:
    threading.Thread(target=_warm, name="warm-imports", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
