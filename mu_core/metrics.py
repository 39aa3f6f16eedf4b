"""Every metric of the benchmark, computed from per-sample outputs.

Naming matters: `mia_accuracy` is the attack's accuracy; `forgetting_score` = |mia_accuracy - 0.5| is what the
benchmark's README tables print under the heading "MIA".

sklearn is imported inside the functions that use it: the metric registry (and with it the run store and the
dashboard's first page) imports this module, and importing sklearn takes seconds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit


@dataclass(frozen=True)
class MIAResult:
    accuracy: float            # mean cross-validated accuracy of the benchmark's logistic-regression attack
    forgetting_score: float    # |accuracy - 0.5|
    accuracy_std: float        # spread (standard deviation) of the 10 split accuracies: the uncertainty shown
    fold_accuracies: tuple[float, ...]
    auc: float                 # ROC AUC of a threshold attack on the same signal (lower loss = member)
    tpr_at_1pct_fpr: float
    n_members: int             # sizes after the benchmark's balancing
    n_nonmembers: int

    def to_dict(self) -> dict:
        return asdict(self)


def balance(member: np.ndarray, nonmember: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's balancing, as its notebooks do it whichever side is larger: the member (forget) losses are
    always shuffled with numpy seed 42 and cut to the number of non-members; when the forget set is the smaller
    side (MUFAC: 1500 forget, 1504 unseen) all non-member losses are kept and the sides stay unequal."""
    member, nonmember = np.array(member, dtype=np.float64), np.array(nonmember, dtype=np.float64)
    np.random.RandomState(42).shuffle(member)
    return member[: len(nonmember)], nonmember


def _attack_data(member: np.ndarray, nonmember: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels in the benchmark's order: non-members (label 0) first, then members (label 1)."""
    x = np.concatenate([nonmember, member]).reshape(-1, 1)
    y = np.array([0] * len(nonmember) + [1] * len(member))
    return x, y


# The 10% test folds of StratifiedShuffleSplit need two samples, one per class: 6 + 6 samples at least.
MIN_ATTACK_SIZE = 6


def attack_model() -> LogisticRegression:
    """The benchmark attack's classifier, untouched sklearn defaults."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


def attack_splits() -> StratifiedShuffleSplit:
    """The benchmark attack's 10 stratified 90/10 shuffle splits."""
    from sklearn.model_selection import StratifiedShuffleSplit

    return StratifiedShuffleSplit(n_splits=10, random_state=0)


def mia(member_signal, nonmember_signal) -> MIAResult:
    """The benchmark's membership-inference attack on a 1-D per-sample signal (the loss).

    Members = forget set, non-members = unseen set; balanced as in `balance`; sklearn `LogisticRegression()`
    scored by its mean accuracy over 10 stratified shuffle splits, `StratifiedShuffleSplit(n_splits=10,
    random_state=0)`: 10 random, overlapping 90/10 train/test splits (not 10-fold cross-validation). With fewer
    than MIN_ATTACK_SIZE samples a side the splits cannot be made: accuracy and forgetting score are NaN (shown as
    "not enough samples"), while the threshold attack's AUC is still given."""
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import cross_val_score

    member, nonmember = balance(member_signal, nonmember_signal)
    if len(member) == 0 or len(nonmember) == 0:
        raise ValueError("The attack needs members and non-members; one side is empty.")
    x, y = _attack_data(member, nonmember)
    fpr, tpr, _ = roc_curve(y, -x[:, 0])
    threshold = {"auc": float(roc_auc_score(y, -x[:, 0])), "tpr_at_1pct_fpr": float(np.interp(0.01, fpr, tpr)),
                 "n_members": len(member), "n_nonmembers": len(nonmember)}
    if min(len(member), len(nonmember)) < MIN_ATTACK_SIZE:
        nan = float("nan")
        return MIAResult(accuracy=nan, forgetting_score=nan, accuracy_std=nan, fold_accuracies=(), **threshold)
    folds = cross_val_score(attack_model(), x, y, cv=attack_splits(), scoring="accuracy")
    accuracy = float(folds.mean())
    return MIAResult(accuracy=accuracy, forgetting_score=forgetting_score(accuracy), accuracy_std=float(folds.std()),
                     fold_accuracies=tuple(float(f) for f in folds), **threshold)


def mia_roc(member_signal, nonmember_signal) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of the threshold attack on the balanced sets, for plotting."""
    from sklearn.metrics import roc_curve

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


def true_class_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample softmax probability of the true class (SalUn's MIA feature). Multi-label (2-D labels): the
    mean over attributes of the sigmoid probability of the true value."""
    logits = np.asarray(logits, dtype=np.float64)
    if np.ndim(labels) == 2:
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.where(np.asarray(labels) > 0.5, p, 1.0 - p).mean(axis=1)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p[np.arange(len(p)), np.asarray(labels, dtype=np.int64)]


def mia_efficacy(retain_conf, test_conf, forget_conf) -> float:
    """SalUn's MIA-efficacy (SVC_MIA's "confidence" entry): an `SVC(C=3, kernel="rbf", gamma="auto")` fitted on the
    first len(test) retain samples (members, 1) and the test set (non-members, 0), with the true-class confidence
    (`true_class_confidence`) as the only feature, then applied to the forget set; the share of forget samples it
    predicts non-member (1 - mean prediction). Higher = the forget set looks less like training data. For
    multi-label data, where there is no softmax over classes, the feature is the mean over attributes of the
    sigmoid probability of the true value."""
    from sklearn.svm import SVC

    shadow_in = np.asarray(retain_conf, dtype=np.float64)[: len(test_conf)]
    shadow_out = np.asarray(test_conf, dtype=np.float64)
    x = np.concatenate([shadow_in, shadow_out]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(shadow_in)), np.zeros(len(shadow_out))])
    attack = SVC(C=3, kernel="rbf", gamma="auto").fit(x, y)
    return float(1.0 - attack.predict(np.asarray(forget_conf, dtype=np.float64).reshape(-1, 1)).mean())


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
from mu_core.evidence import forget_quality, identity_dprime, logit_scaled_confidence  # noqa: E402,F401  (re-exported)
