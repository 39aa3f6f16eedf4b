"""The evidence pack of one stored run, for auditors and stakeholders: a self-contained HTML report (charts and
photos embedded, nothing fetched from the network), a PDF of it printed by headless Chromium, and a JSON manifest
of the process (what was forgotten, how, by which code, with which weights before and after, and every check of
the verdict with its sample size, interval and noise floor)."""
from __future__ import annotations

import base64
import html
import io
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly.io as pio
from PIL import Image

from mu_core import jsonio, plots
from mu_core.errors import MUError
from mu_core.experiment import REPO_ROOT
from mu_core.metric_registry import REGISTRY
from mu_core.models import atomic_write
from mu_core.results import ModelResult, format_value, sample_sizes

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
PDF_TIMEOUT_S = 120
LIMITS = (
    "This is empirical evidence about the models measured here, not a guarantee: checks compare the unlearned "
    "model with models retrained without the forgotten photos, on the sample sizes stated, and can miss what they "
    "do not measure.",
    "The record describes the process (data hashes, code version, seeds, weights before and after). Outputs or "
    "weights alone can be forged: trust in the result rests on the process having run as recorded.",
)
CHECK_COLOURS = {True: "#1b7f3b", False: "#b3261e", None: "#6b6b6b"}
CHECK_WORDS = {True: "pass", False: "fail", None: "cannot tell"}


def code_version() -> dict:
    """The git commit of the code (with a flag when the work tree has uncommitted changes), else the package's
    version."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return {"git_commit": commit, "uncommitted_changes": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version
        try:
            return {"package_version": version("mu_core")}
        except PackageNotFoundError:
            return {"package_version": "unknown (no git repository and no installed package)"}


def manifest(run: dict) -> dict:
    """The JSON manifest of a finished run: the process record from its store entry (whose "result" is a
    ModelResult)."""
    if run.get("status") != "done" or not run.get("audit") or not run.get("result"):
        raise MUError(f"Run {run.get('id')} is {run.get('status')}: only a finished run has evidence to report.")
    audit, result = run["audit"], run["result"]
    return {
        "run_id": run["id"], "created": run.get("created"), "finished": run.get("finished"),
        "request": {"dataset": audit.get("dataset"), "dataset_fingerprint": audit.get("dataset_fingerprint"),
                    "scenario": audit.get("scenario"), "forget": audit.get("forget")},
        "forgotten_images": audit.get("forgotten", []),
        "weights_sha256_before": audit.get("weights_sha256_before"),
        "weights_sha256_after": audit.get("weights_sha256_after"),
        "original_fingerprint": audit.get("original_fingerprint"),
        "code_version": code_version(),
        "method": result.method, "hparams": dict(result.hparams),
        "seeds": {"experiment": audit.get("seed"), "unlearning": result.seed},
        "device": audit.get("device"),
        "verdict": result.verdict,
        "metrics": dict(result.metrics),
        "cost": {"seconds": result.seconds, "time_ratio": result.time_ratio,
                 "compute_ratio": result.metrics.get("compute_ratio")},
        "limits": list(LIMITS),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _thumbnail_uri(image: np.ndarray, size: int = 96) -> str:
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    picture.thumbnail((size, size))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if np.isfinite(value) else "–"
    if isinstance(value, dict):
        return html.escape(", ".join(f"{k} {_cell(v)}" for k, v in value.items()))
    return html.escape(str(value))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _metrics_html(result: ModelResult) -> str:
    """The run's registry metrics in the registry's order: label, value, what is better, sample sizes."""
    rows = []
    for key, metric in REGISTRY.items():
        value = result.value(key)
        if value is None:
            continue
        rows.append(f"<tr><td title='{html.escape(metric.definition, quote=True)}'>{html.escape(metric.label)}</td>"
                    f"<td>{html.escape(format_value(value, key))}</td><td>{html.escape(metric.better)}</td>"
                    f"<td>{html.escape(sample_sizes(result.metrics, key))}</td></tr>")
    return ("<table><tr><th>metric</th><th>value</th><th>better</th><th>sample sizes</th></tr>"
            f"{''.join(rows)}</table>")


def _verdict_html(verdict: dict | None) -> str:
    if not verdict:
        return "<p class='grey'>This run has no verdict (it was stored before verdicts existed).</p>"
    word = {True: "Forgotten", False: "Not forgotten", None: "Cannot tell with this evidence"}[verdict["forgotten"]]
    rows = "".join(
        f"<tr><td>{html.escape(c['name'])}</td>"
        f"<td style='color:{CHECK_COLOURS[c['pass']]};font-weight:600'>{CHECK_WORDS[c['pass']]}</td>"
        f"<td>{_cell(c.get('value'))}</td><td>{_cell(c.get('reference'))}</td><td>{_cell(c.get('floor'))}</td>"
        f"<td>{html.escape(c.get('text') or '')}</td></tr>" for c in verdict.get("checks", []))
    level = verdict.get("level")
    bank = f", reference bank of {verdict.get('n_models')} Retrained models" if level == "bank" else ""
    return (f"<div class='verdict' style='border-color:{CHECK_COLOURS[verdict['forgotten']]}'>"
            f"<h2 style='color:{CHECK_COLOURS[verdict['forgotten']]}'>{word}</h2>"
            f"<p>{html.escape(verdict.get('summary', ''))}</p><p class='grey'>Evidence level: {level}{bank}.</p>"
            "<table><tr><th>check</th><th>result</th><th>value</th><th>Retrained (reference)</th>"
            f"<th>noise floor</th><th>evidence</th></tr>{rows}</table></div>")


def _photos_html(forgotten: list[dict], thumbnails: dict[str, np.ndarray]) -> str:
    cards = []
    for item in forgotten:
        image = thumbnails.get(item["sample_id"])
        picture = f"<img src='{_thumbnail_uri(image)}' alt='{html.escape(item['sample_id'])}'>" \
            if image is not None else ""
        cards.append(f"<figure>{picture}<figcaption>{html.escape(item['sample_id'])} "
                     f"({html.escape(str(item.get('identity', '')))})<br><code>"
                     f"{html.escape(item['image_sha256'][:16])}…</code></figcaption></figure>")
    return "<div class='photos'>" + "".join(cards) + "</div>"


def _charts_html(outputs: dict[str, np.ndarray] | None, label: str) -> str:
    if not outputs or "forget.loss" not in outputs or "unseen.loss" not in outputs:
        return "<p class='grey'>The run's per-sample outputs are not available: no loss chart.</p>"
    figure = plots.loss_histograms({label: (outputs["forget.loss"], outputs["unseen.loss"])})
    return pio.to_html(figure, full_html=False, include_plotlyjs=True, config={"displayModeBar": False})


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#1d1d1d}
h1{font-size:1.6em} h2{margin:.2em 0} .grey{color:#6b6b6b}
.verdict{border:3px solid;border-radius:8px;padding:1em;margin:1em 0}
table{border-collapse:collapse;width:100%;font-size:.9em} td,th{border-bottom:1px solid #ddd;padding:4px 6px;
text-align:left;vertical-align:top} .photos{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;font-size:.75em;width:120px} figure img{width:96px;height:96px;object-fit:cover}
"""


def report_html(run: dict, outputs: dict[str, np.ndarray] | None = None,
                thumbnails: dict[str, np.ndarray] | None = None) -> str:
    """The self-contained HTML report of a finished run (plotly.js inlined; photos as data URIs)."""
    m = manifest(run)
    hparams = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_cell(v)}</td></tr>"
                      for k, v in m["hparams"].items())
    version = m["code_version"]
    code = version.get("git_commit") or version.get("package_version")
    request = m["request"]
    title = f"Unlearning evidence: run {run['id']}"
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Request: forget <b>{html.escape(str(request['forget']))}</b> ({_count(len(m['forgotten_images']), 'photo')})
from the <b>{html.escape(str(request['dataset']))}</b> model, scenario {html.escape(str(request['scenario']))}.
Method <b>{html.escape(str(m['method']))}</b>, seed {m['seeds']['experiment']}, device {html.escape(str(m['device']))}.
</p>
{_verdict_html(m['verdict'])}
<h2>Cost</h2><p>{_cell(m['cost']['seconds'])} s of unlearning; {_cell(m['cost']['time_ratio'])} of the Retrained
model's training time; compute ratio (floating-point operations) {_cell(m['cost']['compute_ratio'])}.</p>
<h2>Forgotten photos</h2>{_photos_html(m['forgotten_images'], thumbnails or {})}
<h2>Loss of the forgotten photos against unseen photos</h2>{_charts_html(outputs, str(m['method']))}
<h2>Metrics</h2>{_metrics_html(run['result'])}
<h2>Hyperparameters</h2><table>{hparams}</table>
<h2>Process record</h2><table>
<tr><td>weights before (SHA-256)</td><td><code>{m['weights_sha256_before']}</code></td></tr>
<tr><td>weights after (SHA-256)</td><td><code>{m['weights_sha256_after']}</code></td></tr>
<tr><td>code version</td><td><code>{html.escape(str(code))}</code>
{' (with uncommitted changes)' if version.get('uncommitted_changes') else ''}</td></tr>
<tr><td>dataset fingerprint</td><td><code>{html.escape(str(request['dataset_fingerprint']))}</code></td></tr>
</table>
<h2>Limits</h2><ul>{''.join(f'<li>{html.escape(t)}</li>' for t in LIMITS)}</ul>
<p class="grey">Written {m['written']}. The manifest.json beside this report holds the same record as data.</p>
</body></html>"""


def find_chromium() -> str | None:
    for candidate in (shutil.which("chromium"), *CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def html_to_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the report with headless Chromium (no network: background networking off), atomically."""
    chromium = find_chromium()
    if chromium is None:
        raise MUError("No Chromium found to print the PDF (install Debian's chromium, as `make test` does); the "
                      "HTML report and the manifest were written.")
    with tempfile.TemporaryDirectory() as profile:
        def write(tmp: Path) -> None:
            command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                       "--disable-background-networking", "--disable-extensions", "--no-first-run",
                       f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--no-pdf-header-footer",
                       f"--print-to-pdf={tmp}", html_path.resolve().as_uri()]
            done = subprocess.run(command, capture_output=True, text=True, timeout=PDF_TIMEOUT_S)
            if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
                raise MUError(f"Chromium could not print the PDF (exit code {done.returncode}); the HTML report "
                              "and the manifest were written.")
        atomic_write(pdf_path, write)


def write_pack(run: dict, out_dir: Path, outputs: dict[str, np.ndarray] | None = None,
               thumbnails: dict[str, np.ndarray] | None = None, pdf: bool = True) -> dict[str, Path]:
    """Write manifest.json, report.html and (when `pdf`) report.pdf into `out_dir`, each atomically."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise MUError(f"{out_dir} is a file; --out needs a folder.")
    paths = {"manifest": out_dir / "manifest.json", "html": out_dir / "report.html"}
    data = manifest(run)
    text = report_html(run, outputs, thumbnails)
    atomic_write(paths["manifest"], lambda p: p.write_text(jsonio.dumps(data, indent=2)))
    atomic_write(paths["html"], lambda p: p.write_text(text, encoding="utf-8"))
    if pdf:
        paths["pdf"] = out_dir / "report.pdf"
        html_to_pdf(paths["html"], paths["pdf"])
    return paths
