"""`python -m mu_core report RUN_ID --out DIR`: the evidence pack of a stored run (report.html, report.pdf and
manifest.json in DIR), as the dashboard's Compare page downloads it."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mu_core.data import load_dataset
from mu_core.errors import MUError
from mu_core.evidence_pack import html_to_pdf, write_pack
from mu_core.store import RunDamaged, RunStore


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a stored run's evidence pack: report.html, report.pdf, manifest.json")
    p.add_argument("run_id", help="a run id (printed by unlearn, listed on the dashboard's Runs page)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the three files into")
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF (it needs Chromium)")
    p.add_argument("--data-dir", default=None, help="the data folder of a bring-your-own dataset (for the photos)")
    p.set_defaults(func=cmd_report)


def _thumbnails(run: dict, data_dir: str | None) -> dict[str, np.ndarray]:
    """The forgotten photos by sample id, when the run's dataset can be loaded here (else none: the report lists
    their hashes without pictures)."""
    try:
        ds = load_dataset(run["dataset"], data_dir)
    except (MUError, OSError, ValueError):
        return {}
    where = {sid: i for i, sid in enumerate(ds.sample_ids)}
    wanted = [f["sample_id"] for f in (run.get("audit") or {}).get("forgotten", [])]
    return {sid: ds.load_image(where[sid]) for sid in wanted if sid in where}


def cmd_report(args: argparse.Namespace) -> int:
    store = RunStore()
    run = store.get(args.run_id)
    if run is None:
        raise MUError(f"No run {args.run_id!r} in {store.root}: use a run id that `unlearn` printed.")
    try:
        outputs = store.outputs(run["id"]) if run["status"] == "done" else None
    except RunDamaged as e:
        print(f"note: {e}")
        outputs = None
    out = Path(args.out)
    paths = write_pack(run, out, outputs, _thumbnails(run, args.data_dir), pdf=False)
    for path in paths.values():
        print(f"wrote {path}")
    if not args.no_pdf:
        html_to_pdf(paths["html"], out / "report.pdf")  # MUError (one line) when no Chromium is present
        print(f"wrote {out / 'report.pdf'}")
    return 0
