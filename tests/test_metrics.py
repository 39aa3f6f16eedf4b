"""Metrics against hand-computed values and against the benchmark's own procedure."""
import numpy as np
import pytest
from sklearn import linear_model, model_selection

from mu_core import metrics as M


@pytest.mark.parametrize("acc, fs, final", [
    (0.5951, 0.2136, 0.5839),  # MUFAC Original (benchmark README)
    (0.488, 0.0445, 0.6995),   # MUFAC Retrained
    (0.4048, 0.0485, 0.6539),  # MUFAC NegGrad
    (0.8852, 0.0568, 0.8858),  # MUCAC multi-label Original
    (0.9515, 0.0154, 0.9603),  # MUCAC Male Retrained
])
def test_nomus_reproduces_benchmark_readme_rows(acc, fs, final):
    # The README's "MIA" row is the forgetting score |MIA - 0.5|; both MIA = 0.5 +- fs give the same NoMUS.
    assert M.nomus(acc, 0.5 + fs) == pytest.approx(final, abs=1e-4)
    assert M.nomus(acc, 0.5 - fs) == pytest.approx(final, abs=1e-4)


def test_nomus_by_hand_and_parts():
    assert M.nomus(0.8, 0.6) == pytest.approx(0.5 * 0.8 + 0.5 * (1 - 0.2))
    assert M.nomus(0.8, 0.6, lam=1.0) == pytest.approx(0.8)
    parts = M.nomus_parts(0.8, 0.7, lam=0.25)
    assert parts["utility"] == pytest.approx(0.2)
    assert parts["forgetting"] == pytest.approx(0.75 * 0.6)
    assert parts["nomus"] == pytest.approx(M.nomus(0.8, 0.7, lam=0.25))
    assert M.forgetting_score(0.7136) == pytest.approx(0.2136)


def benchmark_cal_mia(forget_losses, unseen_losses):
    """The benchmark notebooks' cal_mia / simple_mia, step by step."""
    np.random.seed(42)
    forget_losses = np.array(forget_losses)
    np.random.shuffle(forget_losses)
    forget_losses = forget_losses[: len(unseen_losses)]
    samples = np.concatenate((unseen_losses, forget_losses)).reshape((-1, 1))
    labels = [0] * len(unseen_losses) + [1] * len(forget_losses)
    cv = model_selection.StratifiedShuffleSplit(n_splits=10, random_state=0)
    scores = model_selection.cross_val_score(linear_model.LogisticRegression(), samples, labels, cv=cv,
                                             scoring="accuracy")
    return scores.mean()


def test_mia_equals_benchmark_procedure_on_fixed_arrays():
    rng = np.random.default_rng(7)
    forget = rng.gamma(1.0, 0.4, size=150)      # members: lower losses, more of them (truncated to 120)
    unseen = rng.gamma(2.0, 0.8, size=120)
    result = M.mia(forget, unseen)
    expected = benchmark_cal_mia(forget, unseen)
    assert result.accuracy == pytest.approx(expected, abs=1e-12)
    assert result.forgetting_score == pytest.approx(abs(expected - 0.5))
    assert result.n_members == result.n_nonmembers == 120
    assert len(result.fold_accuracies) == 10
    assert result.accuracy_std == pytest.approx(np.std(result.fold_accuracies))
    assert result.accuracy > 0.6 and result.auc > 0.7


def test_mia_hand_computed_separable_and_identical():
    separable = M.mia(np.full(20, 0.1) + np.arange(20) * 1e-3, np.full(20, 3.0) + np.arange(20) * 1e-3)
    assert separable.accuracy == 1.0 and separable.auc == 1.0 and separable.tpr_at_1pct_fpr == 1.0
    same = M.mia(np.ones(20), np.ones(20))
    assert same.auc == 0.5 and same.forgetting_score == pytest.approx(abs(same.accuracy - 0.5))


def test_mia_balances_as_the_benchmark_does():
    """The forget losses are cut to the number of unseen ones; fewer forget losses keep every unseen one."""
    small, large = np.linspace(0, 1, 10), np.linspace(2, 3, 30)
    assert M.mia(large, small).n_members == 10
    assert M.mia(small, large).n_nonmembers == 30
    few = M.mia(np.array([0.1, 0.2, 0.3]), np.linspace(2, 3, 30))
    assert np.isnan(few.accuracy) and np.isnan(M.nomus(0.9, few.accuracy)) and few.auc == 1.0
    assert (few.n_members, few.n_nonmembers) == (3, 30)
    assert not np.isnan(M.mia(np.linspace(0, 1, 6), np.linspace(0.5, 2, 6)).accuracy)


def test_gap_efficacy_accuracies():
    m = {"forget_acc": 1.0, "retain_acc": 1.0, "test_acc": 0.9, "mia_accuracy": 0.7}
    r = {"forget_acc": 0.0, "retain_acc": 1.0, "test_acc": 0.9, "mia_accuracy": 0.5}
    assert M.gap_to_retrained(m, r) == pytest.approx((1.0 + 0 + 0 + 0.2) / 4)
    # forget losses look like test losses -> called non-members; like retain losses -> members
    retain, test = np.linspace(0, 0.1, 50), np.linspace(2, 3, 50)
    assert M.mia_efficacy(retain, test, np.full(10, 2.5)) == 1.0
    assert M.mia_efficacy(retain, test, np.full(10, 0.05)) == 0.0
    logits = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [1.0, 3.0, 2.0]])
    assert M.top_k_accuracy(logits, np.array([1, 0, 2]), 2) == pytest.approx(2 / 3)
    per = M.per_class_accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), ["a", "b", "c"])
    assert per == {"a": 1.0, "b": 1.0, "c": 0.5}
    ml = M.per_class_accuracy(np.array([[1, 0], [1, 1]]), np.array([[1, 1], [1, 1]]), ["Male", "Smiling"])
    assert ml == {"Male": 1.0, "Smiling": 0.5}
