"""Every metric of the benchmark (design.md section 5), computed from per-sample outputs.

Naming matters: `mia_accuracy` is the attack's accuracy; `forgetting_score` = |mia_accuracy - 0.5| is what the
benchmark's README tables print under the heading "MIA".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score


@dataclass(frozen=True)
class MIAResult:
    accuracy: float            # mean cross-validated accuracy of the benchmark's logistic-regression attack
    forgetting_score: float    # |accuracy - 0.5|
    accuracy_std: float        # spread (standard deviation) of the 10 fold accuracies: the uncertainty shown
    fold_accuracies: tuple[float, ...]
    auc: float                 # ROC AUC of a threshold attack on the same signal (lower loss = member)
    tpr_at_1pct_fpr: float
    n_members: int             # sizes after the benchmark's balancing
    n_nonmembers: int

    def to_dict(self) -> dict:
        return asdict(self)


def balance(member: np.ndarray, nonmember: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's balancing: shuffle the larger side with numpy seed 42 and truncate it to the smaller size
    (the benchmark shuffles the forget losses; it never needs the other case, which mirrors it)."""
    member, nonmember = np.array(member, dtype=np.float64), np.array(nonmember, dtype=np.float64)
    rng = np.random.RandomState(42)
    if len(member) >= len(nonmember):
        rng.shuffle(member)
        member = member[: len(nonmember)]
    else:
        rng.shuffle(nonmember)
        nonmember = nonmember[: len(member)]
    return member, nonmember


def _attack_data(member: np.ndarray, nonmember: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels in the benchmark's order: non-members (label 0) first, then members (label 1)."""
    x = np.concatenate([nonmember, member]).reshape(-1, 1)
    y = np.array([0] * len(nonmember) + [1] * len(member))
    return x, y


# The 10% test folds of StratifiedShuffleSplit need two samples, one per class: 6 + 6 samples at least.
MIN_ATTACK_SIZE = 6


def mia(member_signal, nonmember_signal) -> MIAResult:
    """The benchmark's membership-inference attack on a 1-D per-sample signal (the loss).

    Members = forget set, non-members = unseen set; balanced as in `balance`; sklearn `LogisticRegression()`
    scored by `StratifiedShuffleSplit(n_splits=10, random_state=0)` accuracy. With fewer than MIN_ATTACK_SIZE
    samples a side the cross-validation cannot run: accuracy and forgetting score are NaN (shown as "not enough
    samples"), while the threshold attack's AUC is still given."""
    member, nonmember = balance(member_signal, nonmember_signal)
    n = len(member)
    if n == 0:
        raise ValueError("The attack needs members and non-members; one side is empty.")
    x, y = _attack_data(member, nonmember)
    fpr, tpr, _ = roc_curve(y, -x[:, 0])
    threshold = {"auc": float(roc_auc_score(y, -x[:, 0])), "tpr_at_1pct_fpr": float(np.interp(0.01, fpr, tpr)),
                 "n_members": n, "n_nonmembers": n}
    if n < MIN_ATTACK_SIZE:
        nan = float("nan")
        return MIAResult(accuracy=nan, forgetting_score=nan, accuracy_std=nan, fold_accuracies=(), **threshold)
    cv = StratifiedShuffleSplit(n_splits=10, random_state=0)
    folds = cross_val_score(LogisticRegression(), x, y, cv=cv, scoring="accuracy")
    accuracy = float(folds.mean())
    return MIAResult(accuracy=accuracy, forgetting_score=forgetting_score(accuracy), accuracy_std=float(folds.std()),
                     fold_accuracies=tuple(float(f) for f in folds), **threshold)


def mia_roc(member_signal, nonmember_signal) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of the threshold attack on the balanced sets, for plotting."""
    x, y = _attack_data(*balance(member_signal, nonmember_signal))
    fpr, tpr, _ = roc_curve(y, -x[:, 0])
    return fpr, tpr


def forgetting_score(mia_accuracy: float) -> float:
    return abs(mia_accuracy - 0.5)


def nomus(test_acc: float, mia_accuracy: float, lam: float = 0.5) -> float:
    """NoMUS = lam * test_acc + (1 - lam) * (1 - 2 * |mia_accuracy - 0.5|)."""
    return lam * test_acc + (1 - lam) * (1 - 2 * forgetting_score(mia_accuracy))


def nomus_parts(test_acc: float, mia_accuracy: float, lam: float = 0.5) -> dict[str, float]:
    """NoMUS split into its utility part and its forgetting part (they add up to NoMUS)."""
    utility = lam * test_acc
    forgetting = (1 - lam) * (1 - 2 * forgetting_score(mia_accuracy))
    return {"utility": utility, "forgetting": forgetting, "nomus": utility + forgetting}


def mia_efficacy(retain_signal, test_signal, forget_signal) -> float:
    """SalUn convention: a logistic-regression attack fitted on retain (members) vs test (non-members) signals,
    balanced as in `balance`, applied to the forget set; the share of forget samples it calls non-members."""
    member, nonmember = balance(retain_signal, test_signal)
    x, y = _attack_data(member, nonmember)
    attack = LogisticRegression().fit(x, y)
    calls = attack.predict(np.asarray(forget_signal, dtype=np.float64).reshape(-1, 1))
    return float(np.mean(calls == 0))


GAP_METRICS = ("forget_acc", "retain_acc", "test_acc", "mia_accuracy")


def gap_to_retrained(metrics: dict, retrained: dict) -> float:
    """Mean absolute difference to the Retrained model over forget_acc, retain_acc, test_acc and mia_accuracy
    (over those available: the MIA accuracy is NaN when the sets are too small for the attack)."""
    return float(np.nanmean([abs(metrics[k] - retrained[k]) for k in GAP_METRICS]))


def accuracy(correct: np.ndarray) -> float:
    return float(np.mean(correct)) if len(correct) else float("nan")


def top_k_accuracy(logits: np.ndarray, labels: np.ndarray, k: int = 2) -> float:
    top = np.argsort(-logits, axis=1)[:, :k]
    return float(np.mean((top == labels[:, None]).any(axis=1)))


def per_class_accuracy(pred: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, float]:
    """Accuracy over the samples of each class present (multi-class, binary); for multi-label, per attribute."""
    if labels.ndim == 2:
        return {name: float(np.mean(pred[:, j] == labels[:, j])) for j, name in enumerate(class_names)}
    return {class_names[c]: float(np.mean(pred[labels == c] == c)) for c in np.unique(labels)}
