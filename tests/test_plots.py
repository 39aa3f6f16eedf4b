"""The Plotly figures: expected traces, shared axes, log scales, labels and colours (no training needed)."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from mu_core import plots
from mu_core.metrics import mia_roc, nomus_parts
from mu_core.results import ModelResult

RNG = np.random.default_rng(0)


def result(method: str, test_acc: float, mia_accuracy: float, seconds: float, hparams: dict | None = None
           ) -> ModelResult:
    return ModelResult(method, hparams or {}, 0, seconds, seconds / 100.0,
                       {"test_acc": test_acc, "mia_accuracy": mia_accuracy,
                        "forgetting_score": abs(mia_accuracy - 0.5), "nomus": 0.5 * test_acc + 0.5 * (
                            1 - 2 * abs(mia_accuracy - 0.5))})


ROWS = {"Original": result("original", 0.9, 0.8, 120.0, {"recipe": {"epochs": 30, "lr": 0.01}}),
        "Retrained": result("retrained", 0.88, 0.52, 100.0, {"recipe": {"epochs": 30, "lr": 0.01}}),
        "NegGrad #a1b2c3": result("neggrad", 0.8, 0.6, 3.0, {"lr": 0.001, "epochs": 2}),
        "SCRUB #d4e5f6": result("scrub", 0.85, 0.55, 0.5, {"alpha": 0.5})}


def axes(fig: go.Figure, letter: str) -> list:
    return [fig.layout[name] for name in fig.layout if name.startswith(f"{letter}axis")]


def test_loss_histograms_share_bins_and_ranges_across_panels():
    panels = {"Original": (RNG.gamma(1, 0.05, 56), RNG.gamma(2, 0.8, 24)),
              "Retrained": (RNG.gamma(2, 0.8, 56), RNG.gamma(2, 0.8, 24)),
              "NegGrad #a1b2c3": (RNG.gamma(2, 1.0, 56), RNG.gamma(2, 0.9, 24)),
              "SCRUB #d4e5f6": (RNG.gamma(2, 0.7, 56), RNG.gamma(2, 0.8, 24))}
    fig = plots.loss_histograms(panels)
    assert len(fig.data) == 8 and all(isinstance(t, go.Bar) for t in fig.data)
    assert [t.name for t in fig.data[:2]] == ["forget (members)", "unseen (non-members)"]
    assert [t.showlegend for t in fig.data] == [True, True] + [False] * 6
    assert {tuple(t.x) for t in fig.data} == {tuple(fig.data[0].x)}  # the same bins everywhere
    x_ranges, y_ranges = {tuple(a.range) for a in axes(fig, "x")}, {tuple(a.range) for a in axes(fig, "y")}
    assert len(axes(fig, "x")) == 6 and len(x_ranges) == 1 and len(y_ranges) == 1  # 2 rows x 3 columns
    assert max(max(t.y) for t in fig.data) <= y_ranges.pop()[1]
    for trace in fig.data:  # each set sums to 1: shares of its own photos
        assert math.isclose(sum(trace.y), 1.0)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "Original<br>(56 forget, 24 unseen)" and len(titles) == 4
    assert "members" in fig.layout.title.text and "non-members" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "loss, log scale"  # 0.0001 to 10: decades
    assert fig.layout.xaxis.tickvals and fig.layout.xaxis.ticktext[0].startswith("1e-")


def test_loss_histograms_linear_when_losses_are_close_and_zero_losses_are_fine():
    fig = plots.loss_histograms({"Original": (np.array([0.5, 0.7, 0.9]), np.array([1.0, 2.0]))})
    assert fig.layout.xaxis.title.text == "loss" and fig.layout.xaxis.range == (0.5, 2.0)
    log = plots.loss_histograms({"Original": (np.array([0.0, 1e-6, 1e-3]), np.array([2.0, np.nan]))})
    assert log.layout.xaxis.title.text == "loss, log scale"
    assert sum(log.data[0].customdata[:, 2]) == 3 and sum(log.data[1].customdata[:, 2]) == 1  # NaN dropped


def test_per_class_accuracy_and_delta():
    per_class = {"Original": {"s1": 1.0, "s2": 0.5, "s3": 0.0}, "Retrained": {"s1": 0.5, "s2": 0.5, "s3": 1.0},
                 "NegGrad #a1b2c3": {"s1": 0.0, "s2": 1.0, "s3": 1.0}}
    fig = plots.per_class_accuracy(per_class)
    assert [t.name for t in fig.data] == ["Original", "Retrained (reference)", "NegGrad #a1b2c3"]
    assert list(fig.data[0].x) == ["s1", "s2", "s3"] and fig.layout.barmode == "group"
    assert fig.data[0].marker.color == plots.BASELINE_COLORS["Original"]
    assert fig.layout.yaxis.range == (0, 1.02)
    delta = plots.per_class_delta(per_class, "Retrained")
    assert [t.name for t in delta.data] == ["Original", "NegGrad #a1b2c3"]
    assert list(delta.data[0].y) == [0.5, 0.0, -1.0] and list(delta.data[1].y) == [-0.5, 0.5, 0.0]
    assert "Retrained" in delta.layout.title.text and "Retrained" in delta.layout.yaxis.title.text
    assert delta.layout.yaxis.range == pytest.approx((-1.1, 1.1))
    small = plots.per_class_delta({"Retrained": {"s1": 0.5}, "Run": {"s1": 0.52}})
    assert small.layout.yaxis.range == pytest.approx((-0.055, 0.055))
    assert delta.data[1].marker.color == fig.data[2].marker.color  # one colour per model in every figure
    with pytest.raises(ValueError, match="reference"):
        plots.per_class_delta({"Original": {"s1": 1.0}}, "Retrained")


def test_mia_roc_has_the_diagonal_auc_and_sizes():
    members, nonmembers = RNG.gamma(1, 0.2, 24), RNG.gamma(2, 0.8, 24)
    curves = {"Original": mia_roc(members, nonmembers), "Retrained": mia_roc(nonmembers[::-1], nonmembers)}
    fig = plots.mia_roc(curves, {"Original": (24, 24), "Retrained": (24, 24)})
    assert len(fig.data) == 3 and list(fig.data[0].x) == [0, 1] and fig.data[0].line.dash == "dash"
    assert fig.data[1].name.startswith("Original (AUC 0.") and "24 forgotten vs 24 unseen" in fig.layout.title.text
    assert fig.data[2].line.color == plots.BASELINE_COLORS["Retrained"]
    uneven = plots.mia_roc(curves, {"Original": 24, "Retrained": 12})
    assert "legend" in uneven.layout.title.text and "12 vs 12" in uneven.data[2].name
    perfect = plots.mia_roc({"A": (np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]))}, {"A": 6})
    assert "AUC 1.00" in perfect.data[1].name


def test_nomus_parts_stack_to_nomus():
    fig = plots.nomus_parts(ROWS, lam=0.3)
    utility, forgetting = fig.data
    assert fig.layout.barmode == "stack" and list(utility.x) == list(ROWS)
    for row, u, f in zip(ROWS.values(), utility.y, forgetting.y):
        expected = nomus_parts(row.metrics["test_acc"], row.metrics["mia_accuracy"], 0.3)
        assert math.isclose(u, expected["utility"]) and math.isclose(f, expected["forgetting"])
    assert "λ = 0.30" in fig.layout.title.text and forgetting.text[1] == "0.936"  # 0.3 * 0.88 + 0.7 * 0.96
    assert "closest to Retrained" in fig.layout.title.text
    assert math.isclose(fig.layout.shapes[0].y0, 0.936) and "target: Retrained" in fig.layout.annotations[0].text
    too_few = {"Original": ROWS["Original"].with_metrics({"mia_accuracy": float("nan")}),
               "Retrained": ROWS["Retrained"]}
    fig = plots.nomus_parts(too_few, lam=0.5)
    assert list(fig.data[0].x) == ["Retrained"]  # only models with both parts


def test_classes_that_matter_put_the_forgotten_first_then_the_largest_changes():
    per_class = {"Retrained": {f"s{i}": 0.9 for i in range(40)},
                 **{f"Run {k}": {f"s{i}": 0.9 - (0.5 if i == 7 + k else 0.0) for i in range(40)} for k in range(5)}}
    chosen = plots.classes_that_matter(per_class, forgotten=["s3"], limit=6)
    assert chosen[0] == "s3" and set(chosen[1:]) == {"s7", "s8", "s9", "s10", "s11"}
    fig = plots.per_class_accuracy(per_class, classes=chosen)
    assert list(fig.data[0].x) == chosen and len(fig.data) == 6


def test_evidence_figures():
    fig = plots.epsilon_histogram(np.array([0.0, 0.2, 3.0, 50.0]), 16, 3.0)
    assert "N = 16" in fig.layout.title.text and fig.layout.shapes[0].x0 == 3.0 and max(fig.data[0].x) == 4.0
    fig = plots.identity_band({"Retrained": 2.5, "Run": 3.9}, (2.0, 3.0), original=3.93)
    assert fig.layout.shapes[0].y0 == 2.0 and fig.layout.shapes[0].y1 == 3.0 and list(fig.data[0].y) == [2.5, 3.9]
    fig = plots.klom_bars({"forget": 0.4, "test": 0.1}, {"forget": 0.2, "test": None})
    assert list(fig.data[1].x) == ["forget"] and list(fig.data[1].y) == [0.2]


def test_tradeoff_marks_the_target_and_shows_hyperparameters():
    fig = plots.tradeoff(ROWS, "forgetting_score", "test_acc")
    assert [t.name for t in fig.data] == ["Original", "Retrained (target)", "NegGrad #a1b2c3", "SCRUB #d4e5f6"]
    target = fig.data[1]
    assert target.marker.symbol == "star" and math.isclose(target.x[0], 0.02)
    assert {shape.type for shape in fig.layout.shapes} == {"line"} and len(fig.layout.shapes) == 2
    assert "lr = 0.001" in fig.data[2].hovertemplate and "method: neggrad" in fig.data[2].hovertemplate
    assert "epochs = 30" in fig.data[0].hovertemplate
    assert fig.layout.xaxis.title.text == "forgetting |MIA-0.5| (lower is better)"
    assert fig.layout.yaxis.title.text == "test acc (higher is better)" and fig.layout.yaxis.type == "linear"
    timed = plots.tradeoff(ROWS, "seconds", "nomus")
    assert timed.layout.xaxis.type == "log" and "log scale" in timed.layout.xaxis.title.text  # 0.5 s to 120 s
    assert "target" in timed.layout.title.text


def test_model_colors_are_stable_and_distinct():
    colors = plots.model_colors(["Original", "Run A", "Retrained", "Run B"])
    assert colors["Original"] == plots.BASELINE_COLORS["Original"]
    assert colors["Run A"] != colors["Run B"] and colors["Run A"] not in plots.BASELINE_COLORS.values()
    assert plots.model_colors(["Run A", "Run B"])["Run B"] == colors["Run B"]
