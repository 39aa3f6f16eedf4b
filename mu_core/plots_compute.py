"""The compute-vs-forgetting curve: for each method, the verdict and each of its checks as a function of the compute
ratio, from the tuning's trial records (mu_core.search), with "Retrained for the same compute" (retrain_budget) as
the baseline curve. A pure function from records to a Plotly figure (no Streamlit).

Each trial is a point per panel: x its compute ratio (log scale), y the share of its tuning seeds on which the
verdict is "forgotten" (first panel) or the check passes (the others). A method's line is its frontier: the best
share reached at that compute or less. A method is worth its name only where its frontier is above the
baseline's."""
from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from mu_core.yardstick import BASELINE

BASELINE_COLOR = "#000000"
# One colour per method: every method fits (the 8 run colours would repeat), without the near-black of the baseline.
METHOD_PALETTE = tuple(c for c in qualitative.Dark24 if c != "#222A2A")
PANELS = {"forgotten": "Verdict: forgotten", "recognition": "Recognition", "utility": "Utility",
          "membership": "Membership (per photo)", "identity_features": "Identity in the features",
          "over_forgetting": "Not over-forgotten"}
COLUMNS = 3


def share(record: dict[str, Any], panel: str) -> float:
    """The share of the trial's tuning seeds on which the verdict is "forgotten" or the check passes."""
    seeds = record["per_seed"]
    if panel == "forgotten":
        hits = [s["forgotten"] is True for s in seeds]
    else:
        hits = [s["checks"].get(panel) is True for s in seeds]
    return sum(hits) / len(hits) if hits else 0.0


def frontier(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The points where the best y so far over increasing x improves, and the largest x at that best (drawn as a
    step line: the best share reached at that compute or less)."""
    xs: list[float] = []
    ys: list[float] = []
    for x, y in sorted(points):
        if not ys or y > ys[-1]:
            xs.append(x)
            ys.append(y)
    if points and max(points)[0] > xs[-1]:
        xs.append(max(points)[0])
        ys.append(ys[-1])
    return xs, ys


def compute_curve(records: dict[str, list[dict[str, Any]]], titles: dict[str, str] | None = None,
                  title: str = "Compute vs forgetting (tuning seeds)") -> go.Figure:
    """One panel per PANELS entry; one colour per method (`records`: method -> its trial records; `titles`: method
    -> display name), the baseline in black and dashed. Trials without a known compute ratio are left out."""
    titles = titles or {}
    rows = math.ceil(len(PANELS) / COLUMNS)
    fig = make_subplots(rows=rows, cols=COLUMNS, subplot_titles=list(PANELS.values()), shared_xaxes=True,
                        shared_yaxes=True, vertical_spacing=0.12, horizontal_spacing=0.05)
    others = [m for m in records if m != BASELINE]
    colors = {m: METHOD_PALETTE[i % len(METHOD_PALETTE)] for i, m in enumerate(others)} | {BASELINE: BASELINE_COLOR}
    for method in others + ([BASELINE] if BASELINE in records else []):
        known = [r for r in records[method] if all(s.get("compute_ratio") for s in r["per_seed"])]
        name = titles.get(method, method)
        dash = "dash" if method == BASELINE else "solid"
        for i, panel in enumerate(PANELS):
            row, col = divmod(i, COLUMNS)
            points = [(max(s["compute_ratio"] for s in r["per_seed"]), share(r, panel)) for r in known]
            hover = [f"{name}<br>trial {r['trial']}<br>{r['params']}" for r in known]
            fig.add_trace(go.Scatter(
                x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name=name, legendgroup=method,
                showlegend=False, hovertext=hover, hoverinfo="text+x+y",
                marker={"color": colors[method], "size": 7, "opacity": 0.6}), row=row + 1, col=col + 1)
            xs, ys = frontier(points)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup=method, showlegend=i == 0,
                                     line={"color": colors[method], "dash": dash, "shape": "hv"}),
                          row=row + 1, col=col + 1)
    fig.update_xaxes(type="log")  # every panel: a column's panels share one range, which a linear panel misreads
    fig.update_xaxes(title_text="compute ratio (FLOPs / Retrained's)", row=rows)
    fig.update_yaxes(range=[-0.05, 1.05], title_text="share of seeds", col=1)
    fig.update_layout(title=title, height=330 * rows, legend={"orientation": "h", "y": -0.15})
    return fig
