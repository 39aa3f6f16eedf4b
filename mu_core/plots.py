"""Plotly figures of model results: pure functions from numbers to `go.Figure` (no Streamlit).

Every model keeps one colour in every figure: Original grey, Retrained green, runs from a palette in the order
they are given (`model_colors`). Figures of whole results take them by display label (label -> ModelResult)."""
from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mu_core import metrics as M
from mu_core.metric_registry import REGISTRY
from mu_core.results import ModelResult

ORIGINAL, RETRAINED = "Original", "Retrained"
BASELINE_COLORS = {ORIGINAL: "#7f7f7f", RETRAINED: "#2ca02c"}
RUN_PALETTE = ("#1f77b4", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
FORGET_COLOR, UNSEEN_COLOR = "#d62728", "#1f77b4"
UTILITY_COLOR, FORGETTING_COLOR = "#4c78a8", "#f58518"
DECADES_FOR_LOG = 2   # values spanning more than this many powers of ten go on a log scale
PANELS_PER_ROW = 3


def model_colors(labels: Iterable[str]) -> dict[str, str]:
    """Original and Retrained keep their colours; the other labels take the palette in order of appearance."""
    runs = [label for label in dict.fromkeys(labels) if label not in BASELINE_COLORS]
    colors = {label: RUN_PALETTE[i % len(RUN_PALETTE)] for i, label in enumerate(runs)}
    return {**BASELINE_COLORS, **colors}


def spans_decades(values: np.ndarray) -> bool:
    """True when the positive values cover more than DECADES_FOR_LOG powers of ten."""
    positive = values[np.isfinite(values) & (values > 0)]
    return len(positive) > 1 and math.log10(positive.max() / positive.min()) > DECADES_FOR_LOG


# ----- loss distributions ----------------------------------------------------------------------------------------

def loss_histograms(panels: dict[str, tuple[np.ndarray, np.ndarray]],
                    title: str = "Per-sample loss: forgotten training photos (members) vs unseen photos "
                                 "(non-members)",
                    bins: int = 30) -> go.Figure:
    """One panel per model (label -> (forget losses, unseen losses)), with the same bins and the same x and y
    ranges in every panel. Each set is normalised to shares of its own photos, since the two sets differ in
    size. Losses spanning decades are binned and drawn on a log scale."""
    clean = {label: tuple(_finite(v) for v in pair) for label, pair in panels.items()}
    everything = np.concatenate([v for pair in clean.values() for v in pair] or [np.zeros(0)])
    log = spans_decades(everything)
    floor = everything[everything > 0].min() if log else 0.0

    def scale(v: np.ndarray) -> np.ndarray:
        return np.log10(np.maximum(v, floor)) if log else v

    edges = _edges(scale(everything), bins)
    shown = np.power(10.0, edges) if log else edges
    cols = min(PANELS_PER_ROW, max(1, len(clean)))
    rows = max(1, math.ceil(len(clean) / cols))
    titles = [f"{label}<br>({len(forget)} forget, {len(unseen)} unseen)"  # two lines: no overlap when narrow
              for label, (forget, unseen) in clean.items()]
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes="all", shared_yaxes="all", subplot_titles=titles or None,
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    top = 0.0
    for n, (label, (forget, unseen)) in enumerate(clean.items()):
        for name, values, color in (("forget (members)", forget, FORGET_COLOR),
                                    ("unseen (non-members)", unseen, UNSEEN_COLOR)):
            counts, _ = np.histogram(scale(values), edges)
            share = counts / max(1, len(values))
            top = max(top, float(share.max(initial=0.0)))
            fig.add_trace(go.Bar(
                x=(edges[:-1] + edges[1:]) / 2, y=share, width=np.diff(edges), name=name, legendgroup=name,
                showlegend=n == 0, marker_color=color, opacity=0.55,
                customdata=np.stack([shown[:-1], shown[1:], counts], axis=1),
                hovertemplate=(f"<b>{label}</b>, {name}<br>loss %{{customdata[0]:.3g}} to %{{customdata[1]:.3g}}"
                               "<br>%{customdata[2]} photos (%{y:.1%} of the set)<extra></extra>")),
                row=n // cols + 1, col=n % cols + 1)
    fig.update_layout(title=title, barmode="overlay", bargap=0, legend_title_text="Photos",
                      height=320 * rows + 80)
    fig.update_xaxes(range=[edges[0], edges[-1]], title_text="loss, log scale" if log else "loss")
    if log:
        fig.update_xaxes(**_decade_ticks(edges[0], edges[-1]))
    fig.update_yaxes(range=[0, top * 1.08 or 1], tickformat=".0%")
    fig.update_yaxes(title_text="share of the set's photos", col=1)
    return fig


def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def _edges(values: np.ndarray, bins: int) -> np.ndarray:
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def _decade_ticks(low: float, high: float) -> dict:
    """Ticks of a log10-transformed axis, labelled with the values themselves."""
    powers = np.arange(math.floor(low), math.ceil(high) + 1)
    return {"tickvals": powers.tolist(), "ticktext": [f"{10.0 ** p:g}" for p in powers]}


# ----- per-class accuracy ----------------------------------------------------------------------------------------

def per_class_accuracy(per_class: dict[str, dict[str, float]], reference: str = RETRAINED,
                       title: str = "Test accuracy per class", classes: list[str] | None = None) -> go.Figure:
    """Grouped bars: for each class (all, or `classes`), one bar per model; the reference model's bars are
    outlined in black."""
    classes = classes if classes is not None else _classes(per_class)
    colors = model_colors(per_class)
    fig = go.Figure()
    for label, accuracy in per_class.items():
        is_reference = label == reference
        fig.add_trace(go.Bar(
            x=classes, y=[accuracy.get(c) for c in classes], name=f"{label} (reference)" if is_reference else label,
            marker=dict(color=colors[label], line=dict(color="black", width=1.5 if is_reference else 0)),
            hovertemplate=f"<b>{label}</b><br>%{{x}}: %{{y:.1%}}<extra></extra>"))
    fig.update_layout(title=title, barmode="group", legend=dict(title_text="Model", orientation="h", y=-0.25))
    fig.update_xaxes(title_text="class", type="category")
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%")
    return fig


def per_class_delta(per_class: dict[str, dict[str, float]], reference: str = RETRAINED,
                    classes: list[str] | None = None) -> go.Figure:
    """Grouped bars: each model's per-class accuracy minus the reference model's, per class (all, or `classes`;
    0 = the same)."""
    if reference not in per_class:
        raise ValueError(f"the reference model {reference!r} is not among {', '.join(per_class)}")
    classes = classes if classes is not None else _classes(per_class)
    base = per_class[reference]
    colors = model_colors(per_class)
    fig, largest = go.Figure(), 0.0
    for label, accuracy in per_class.items():
        if label == reference:
            continue
        delta = [accuracy[c] - base[c] if c in accuracy and c in base else None for c in classes]
        largest = max([largest] + [abs(d) for d in delta if d is not None and math.isfinite(d)])
        fig.add_trace(go.Bar(x=classes, y=delta, name=label, marker_color=colors[label],
                             hovertemplate=f"<b>{label}</b><br>%{{x}}: %{{y:+.1%}} vs {reference}<extra></extra>"))
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_layout(title=f"Change in accuracy per class against {reference} (above 0: more accurate)",
                      barmode="group", legend=dict(title_text="Model", orientation="h", y=-0.25))
    fig.update_xaxes(title_text="class", type="category")
    limit = min(1.0, max(largest, 0.05)) * 1.1  # symmetric, so that 0 stays in the middle
    fig.update_yaxes(title_text=f"accuracy minus {reference}'s", tickformat="+.0%", range=[-limit, limit])
    return fig


def _classes(per_class: dict[str, dict[str, float]]) -> list[str]:
    return list(dict.fromkeys(c for accuracy in per_class.values() for c in accuracy))


def classes_that_matter(per_class: dict[str, dict[str, float]], forgotten: Iterable[str] = (),
                        reference: str = RETRAINED, limit: int = 12) -> list[str]:
    """The classes worth a bar: the forgotten ones first (those the models report), then the largest changes of
    any model against `reference`, up to `limit` classes in all (instead of every class times every model)."""
    classes = _classes(per_class)
    chosen = [c for c in dict.fromkeys(forgotten) if c in classes][:limit]
    base = per_class.get(reference, {})
    change = {c: max((abs(a[c] - base[c]) for label, a in per_class.items()
                      if label != reference and c in a and c in base
                      and math.isfinite(a[c]) and math.isfinite(base[c])), default=0.0)
              for c in classes if c not in chosen}
    ranked = sorted(change, key=lambda c: -change[c])
    return chosen + ranked[:max(0, limit - len(chosen))]


# ----- membership inference --------------------------------------------------------------------------------------

def mia_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], sizes: dict[str, int | tuple[int, int]]
            ) -> go.Figure:
    """ROC curves (label -> (fpr, tpr)) of the threshold attack telling forgotten training photos (members)
    from unseen photos (non-members), with the chance diagonal and each curve's AUC in the legend. `sizes` are
    the attack's sample sizes per model: one number a side (balanced sets), or (members, non-members).
    The curve joins the ROC points with straight lines (tied scores give a diagonal segment), so the legend's
    AUC, the trapezoid area, is the area under the drawn curve and equals the metrics' `mia_auc`."""
    colors = model_colors(curves)
    pairs = {label: (s, s) if isinstance(s, (int, np.integer)) else tuple(s) for label, s in sizes.items()}
    same = len(set(pairs.values())) == 1
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (AUC 0.50)",
                             line=dict(color="black", dash="dash", width=1), hoverinfo="skip"))
    for label, (fpr, tpr) in curves.items():
        fpr, tpr = np.asarray(fpr, dtype=float), np.asarray(tpr, dtype=float)
        auc = float(np.trapezoid(tpr, fpr)) if len(fpr) > 1 else float("nan")
        n = "" if same or label not in pairs else f", {pairs[label][0]} vs {pairs[label][1]}"
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{label} (AUC {auc:.2f}{n})",
                                 line=dict(color=colors[label], width=2, shape="linear"),
                                 hovertemplate=f"<b>{label}</b><br>FPR %{{x:.2f}}, TPR %{{y:.2f}}<extra></extra>"))
    if same and pairs:
        members, nonmembers = next(iter(pairs.values()))
        size_text = f"{members} forgotten vs {nonmembers} unseen photos per model"
    else:
        size_text = "sample sizes (forgotten vs unseen photos) in the legend"
    fig.update_layout(title=f"Membership-inference ROC, threshold attack: {size_text}", legend_title_text="Model")
    fig.update_xaxes(title_text="false positive rate (unseen photos called members)", range=[0, 1],
                     constrain="domain")
    fig.update_yaxes(title_text="true positive rate (forgotten photos called members)", range=[0, 1],
                     scaleanchor="x", scaleratio=1)
    return fig


# ----- NoMUS -----------------------------------------------------------------------------------------------------

def nomus_parts(results: Mapping[str, ModelResult], lam: float, target: str = RETRAINED) -> go.Figure:
    """Stacked bars per model (label -> result) whose NoMUS has both parts: utility lam * test_acc + forgetting
    (1 - lam) * (1 - 2 * |mia_accuracy - 0.5|); models whose attack had too few samples are left out (callers say
    so). The `target` model's NoMUS is drawn as a dashed line: closest to it is best, not highest."""
    parts = {label: M.nomus_parts(r.metrics["test_acc"], _float(r.metrics.get("mia_accuracy")), lam)
             for label, r in results.items()}
    parts = {label: p for label, p in parts.items() if math.isfinite(p["forgetting"])}
    labels = list(parts)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=[parts[k]["utility"] for k in labels], name=f"utility: λ·test acc",
                         marker_color=UTILITY_COLOR, hovertemplate="%{x}<br>utility part %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Bar(x=labels, y=[parts[k]["forgetting"] for k in labels],
                         name="forgetting: (1−λ)·(1 − 2·|MIA acc − 0.5|)", marker_color=FORGETTING_COLOR,
                         text=[f"{parts[k]['nomus']:.3f}" for k in labels], textposition="outside",
                         hovertemplate="%{x}<br>forgetting part %{y:.3f}<extra></extra>"))
    if target in parts:
        fig.add_hline(y=parts[target]["nomus"], line_dash="dash", line_color=BASELINE_COLORS[RETRAINED],
                      annotation_text=f"target: {target} {parts[target]['nomus']:.3f}",
                      annotation_position="top left")
    fig.update_layout(title=f"NoMUS at λ = {lam:.2f} (closest to {target} is best)", barmode="stack",
                      legend=dict(title_text="Part", orientation="h", y=-0.25))
    fig.update_xaxes(title_text="model", type="category")
    fig.update_yaxes(title_text="NoMUS", range=[0, 1.15])
    return fig


# ----- evidence ---------------------------------------------------------------------------------------------------

def epsilon_histogram(epsilons: np.ndarray, n_models: int, ceiling: float) -> go.Figure:
    """Per forgotten photo, the epsilon of the best attack telling N unlearned from N Retrained models, in the
    official 0.5-wide buckets; the ceiling (the largest epsilon N models resolve) as a dashed line."""
    eps = np.clip(_finite(epsilons), 0, None)
    top = float(ceiling) + 1.0  # at or beyond the ceiling a photo scores 0: one bucket holds them all
    fig = go.Figure(go.Histogram(x=np.minimum(eps, top), xbins=dict(start=0, end=top + 0.5, size=0.5),
                                 marker_color=FORGET_COLOR, name="photos",
                                 hovertemplate="epsilon %{x}<br>%{y} photos<extra></extra>"))
    fig.add_vline(x=ceiling, line_dash="dash", line_color="black",
                  annotation_text=f"ceiling {ceiling:.0f} (N = {n_models})", annotation_position="top right")
    fig.update_layout(title=f"Epsilon per forgotten photo, N = {n_models} models a side (0 = indistinguishable)",
                      showlegend=False, bargap=0.05)
    fig.update_xaxes(title_text="epsilon (capped values drawn at the right end)")
    fig.update_yaxes(title_text="photos")
    return fig


def identity_band(values: dict[str, float], band: tuple[float, float], original: float | None = None) -> go.Figure:
    """Each model's identity d' (the forgotten people's verification d' in the face features) as a point, against
    the Retrained band (shaded); at or below its top passes."""
    labels = list(values)
    colors = model_colors(labels)
    fig = go.Figure()
    fig.add_hrect(y0=band[0], y1=band[1], fillcolor=BASELINE_COLORS[RETRAINED], opacity=0.15, line_width=0,
                  annotation_text="Retrained band", annotation_position="top left")
    fig.add_trace(go.Scatter(x=labels, y=[values[k] for k in labels], mode="markers+text",
                             marker=dict(size=14, color=[colors[k] for k in labels]),
                             text=[f"{values[k]:.2f}" for k in labels], textposition="middle right",
                             hovertemplate="%{x}: d' %{y:.2f}<extra></extra>", showlegend=False))
    if original is not None and math.isfinite(original):
        fig.add_hline(y=original, line_dash="dot", line_color=BASELINE_COLORS[ORIGINAL],
                      annotation_text=f"Original {original:.2f}", annotation_position="bottom right")
    fig.update_layout(title="Identity in the face features: d' of the forgotten people (lower = less separable)")
    fig.update_xaxes(title_text="model", type="category")
    fig.update_yaxes(title_text="verification d'")
    return fig


def klom_bars(values: dict[str, float], floors: dict[str, float | None]) -> go.Figure:
    """KLoM per split (lower is better) with its split-half noise floor (Retrained against Retrained) as a dashed
    marker: within the floor is as close to Retrained as N models can tell."""
    splits = list(values)
    fig = go.Figure(go.Bar(x=splits, y=[values[s] for s in splits], name="KLoM", marker_color=UTILITY_COLOR,
                           hovertemplate="%{x}: KLoM %{y:.3f}<extra></extra>"))
    known = [s for s in splits if floors.get(s) is not None]
    if known:
        fig.add_trace(go.Scatter(x=known, y=[floors[s] for s in known], mode="markers", name="noise floor",
                                 marker=dict(symbol="line-ew-open", size=40, line=dict(width=3, color="black"))))
    fig.update_layout(title="KLoM (95th percentile per split) against its noise floor",
                      legend=dict(orientation="h", y=-0.25))
    fig.update_yaxes(title_text="KLoM (nats)")
    return fig


def _float(value) -> float:
    return float("nan") if value is None else float(value)


# ----- trade-offs ------------------------------------------------------------------------------------------------

def tradeoff(results: Mapping[str, ModelResult], x: str, y: str, target: str = "retrained") -> go.Figure:
    """Scatter of models (label -> result) on two registry metrics (e.g. x="forgetting_score", y="test_acc";
    x="seconds", y="nomus"). The `target` method's model (Retrained) is a star with dotted guides through it: the
    closer a run is to it, the more it behaves as if retrained. Hover shows the method and its hyperparameters. A
    metric spanning decades (time) goes on a log scale."""
    colors = model_colors(results)
    xs, ys = (np.array([_float(r.value(key)) for r in results.values()]) for key in (x, y))
    fig = go.Figure()
    for (label, result), vx, vy in zip(results.items(), xs, ys):
        is_target, is_original = result.method == target, label == ORIGINAL
        symbol = "star" if is_target else "diamond" if is_original else "circle"
        fig.add_trace(go.Scatter(
            x=[vx], y=[vy], mode="markers", name=f"{label} (target)" if is_target else label,
            marker=dict(color=colors[label], size=18 if is_target else 12, symbol=symbol,
                        line=dict(color="black", width=1)),
            hovertemplate=(f"<b>{label}</b><br>method: {result.method}<br>{_hparams_text(result)}"
                           f"<br>{_name(x)}: %{{x:.4g}}<br>{_name(y)}: %{{y:.4g}}<extra></extra>")))
        if is_target and np.isfinite(vx) and np.isfinite(vy):
            fig.add_vline(x=vx, line=dict(color=BASELINE_COLORS[RETRAINED], dash="dot", width=1))
            fig.add_hline(y=vy, line=dict(color=BASELINE_COLORS[RETRAINED], dash="dot", width=1))
    fig.update_layout(title=f"{_name(y)} against {_name(x)}: one point per model; {RETRAINED} (star) is the "
                            "target", legend_title_text="Model")
    for axis, key, values in ((fig.update_xaxes, x, xs), (fig.update_yaxes, y, ys)):
        log = spans_decades(values)
        axis(title_text=_axis_title(key, log), type="log" if log else "linear")
    return fig


def _name(key: str) -> str:
    return REGISTRY[key].label


def _axis_title(key: str, log: bool) -> str:
    return _name(key) + f" ({REGISTRY[key].better}{', log scale' if log else ''})"


def _hparams_text(result: ModelResult) -> str:
    """The hyperparameters, one per line; for the baselines (whose "hparams" hold the training recipe), the
    recipe's epochs and learning rate only."""
    hp = result.hparams
    if "recipe" in hp:
        hp = {k: hp["recipe"].get(k) for k in ("epochs", "lr") if k in hp["recipe"]}
    return "<br>".join(f"{k} = {v}" for k, v in hp.items()) or "no hyperparameters"
