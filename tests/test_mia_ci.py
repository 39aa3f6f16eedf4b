"""Bootstrap confidence interval of the benchmark's MIA accuracy over photos."""
from __future__ import annotations

import numpy as np

from mu_core import evidence as E
from mu_core import metrics as M
from mu_core.metric_registry import get_metric


def test_the_interval_brackets_the_attack_and_separates_clear_from_random_signals():
    rng = np.random.default_rng(0)
    members, nonmembers = rng.exponential(0.1, 24), 1.0 + rng.exponential(1.0, 24)
    low, high = E.mia_accuracy_ci(members, nonmembers)
    assert 0.8 < low <= M.mia(members, nonmembers).accuracy <= high <= 1.0
    same = E.mia_accuracy_ci(rng.normal(size=24), rng.normal(size=24))
    assert same[0] < 0.5 < same[1]
    assert E.mia_accuracy_ci(members, nonmembers) == (low, high)  # seeded


def test_no_interval_when_the_attack_cannot_run():
    assert E.mia_accuracy_ci(np.ones(3), np.zeros(3)) == (None, None)
    assert get_metric("mia_accuracy_ci_low").sample_keys == ("mia_n_members", "mia_n_nonmembers")


def test_model_metrics_report_it_beside_the_unchanged_accuracy(tiny_baselines):
    m, ev = tiny_baselines["original"].metrics, tiny_baselines["original"].evaluation
    assert m["mia_accuracy"] == M.mia(ev["forget"].loss, ev["unseen"].loss).accuracy
    assert (m["mia_accuracy_ci_low"], m["mia_accuracy_ci_high"]) == E.mia_accuracy_ci(ev["forget"].loss,
                                                                                      ev["unseen"].loss)
