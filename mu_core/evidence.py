"""Evidence of forgetting, as pure numpy functions of per-sample outputs: the NeurIPS-2023
official forgetting quality, the per-face relative position against Retrained, identity in the penultimate features
(verification d'), KLoM, noise floors from split halves and bootstrap confidence intervals.

Signals follow the official competition code: the logit-scaled confidence log p_y - log(1 - p_y) per example and
model; arrays of several models are shaped (N models, n examples). scipy and sklearn are imported inside the
functions that use them: the metric registry (and with it the run store and the dashboard's first page) imports
this module, and importing them takes seconds."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

# ----- the official forgetting quality ---------------------------------------------------------------------------

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
DOUBLE_BUFFER = 2.0
PEAKY_RATIO = 0.01
BUCKET = 0.5


def logit_scaled_confidence(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log(p_y + 1e-45) - log(sum_{j != y} p_j + 1e-45) per sample, in float64, with the softmax computed after
    subtracting the largest logit. Multi-class and binary (two-logit) heads only: a multi-label head has no single
    true class, so it raises ValueError."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if logits.ndim != 2 or targets.ndim != 1 or len(targets) != len(logits):
        raise ValueError("logit_scaled_confidence takes logits (n, classes) and one class index per sample; "
                         "a multi-label head has no single true class.")
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(p))
    correct = p[rows, targets].copy()
    p[rows, targets] = 0.0
    return np.log(correct + 1e-45) - np.log(p.sum(axis=1) + 1e-45)


def epsilon_ceiling(n_models: int) -> float:
    """ceil(ln(N - 1)): the largest epsilon N models per side can resolve; epsilons at or beyond it score 0."""
    return float(math.ceil(math.log(n_models - 1))) if n_models > 1 else 0.0


def _rates(counts_positive: np.ndarray, n: int) -> np.ndarray:
    # The official code averages 0/1 indicators over the models in float32.
    return np.float32(counts_positive) / np.float32(n)


def _single_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, fnr) of "positive when conf >= t" over thresholds spanning both sets at 100 per unit."""
    both = np.concatenate([pos, neg])
    lo, hi = both.min(), both.max()
    thresholds = np.linspace(lo, hi, int(math.ceil((hi - lo) * THRESHOLDS_PER_UNIT)))
    pos_s, neg_s = np.sort(pos), np.sort(neg)
    tp = len(pos) - np.searchsorted(pos_s, thresholds, side="left")
    fp = len(neg) - np.searchsorted(neg_s, thresholds, side="left")
    return _rates(fp, len(neg)), _rates(len(pos) - tp, len(pos))


def _double_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, fnr) of "positive when left <= conf <= right", the positive class being the peakier set."""
    pos_diff, neg_diff = pos.max() - pos.min(), neg.max() - neg.min()
    width = neg_diff if pos_diff > neg_diff else pos_diff
    if pos_diff >= neg_diff:
        pos, neg = neg, pos
    lo, hi = pos.min() + width - DOUBLE_BUFFER, pos.max() + DOUBLE_BUFFER
    right = np.linspace(lo, hi, int(math.ceil((hi - lo) * THRESHOLDS_PER_UNIT)))
    n_left = int(math.ceil(2 * DOUBLE_BUFFER * THRESHOLDS_PER_UNIT))
    left = np.concatenate([np.linspace(r - width - DOUBLE_BUFFER, r - width + DOUBLE_BUFFER, n_left)
                           for r in right]) if len(right) else np.zeros(0)
    right = np.repeat(right, n_left)

    def inside(values: np.ndarray) -> np.ndarray:
        s = np.sort(values)
        return np.searchsorted(s, right, side="right") - np.searchsorted(s, left, side="left")

    pp_pos = np.maximum(inside(pos), 0)
    pp_neg = np.maximum(inside(neg), 0)
    return _rates(pp_neg, len(neg)), _rates(len(pos) - pp_pos, len(pos))


def _threshold_epsilons(fpr: np.ndarray, fnr: np.ndarray) -> np.ndarray:
    """Epsilon per threshold: inf when both error rates are 0, NaN (discarded) when exactly one is,
    else max(log(1 - d - FPR) - log FNR, log(1 - d - FNR) - log FPR) clipped at 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.float32(1 - DELTA) - fpr) - np.log(fnr)
        b = np.log(np.float32(1 - DELTA) - fnr) - np.log(fpr)
        both = np.where(np.isnan(a), b, np.where(np.isnan(b), a, np.maximum(a, b)))
        eps = np.clip(both.astype(np.float64), 0, None)
    eps[(fpr == 0) != (fnr == 0)] = np.nan
    eps[(fpr == 0) & (fnr == 0)] = np.inf
    return eps


def example_epsilon(pos: np.ndarray, neg: np.ndarray) -> float:
    """The official epsilon of one forget example from its signal under the models of both sets, in [0, 50].
    A set whose spread is under 1% of the other's (a peaky, e.g. deterministic, unlearner) gets the cap. Two
    constant sets, where the official code has no threshold to try, get 0 when equal and the cap otherwise."""
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    pos_diff, neg_diff = pos.max() - pos.min(), neg.max() - neg.min()
    largest, smallest = max(pos_diff, neg_diff), min(pos_diff, neg_diff)
    if largest == 0:
        return 0.0 if pos[0] == neg[0] else EPSILON_CAP
    if smallest / largest < PEAKY_RATIO:
        return EPSILON_CAP
    fpr_d, fnr_d = _double_threshold_rates(pos, neg)
    fpr_s, fnr_s = _single_threshold_rates(pos, neg)
    eps = _threshold_epsilons(np.concatenate([fpr_d, fpr_s]), np.concatenate([fnr_d, fnr_s]))
    kept = eps[~np.isnan(eps)]
    if len(kept) == 0:
        raise ValueError("every threshold was discarded: the two sets cannot be compared")
    return float(np.clip(kept.max(), 0, EPSILON_CAP))


def bucket_scores(epsilons: np.ndarray, n_models: int) -> np.ndarray:
    """Per example: 1 for epsilon in [0, 0.5), 1/2 in [0.5, 1), 1/4 ... while the bucket ends at or below the
    ceiling ceil(ln(N - 1)); 0 beyond the last bucket."""
    ceiling = epsilon_ceiling(n_models)
    n_buckets = 0
    while (n_buckets + 1) * BUCKET <= ceiling:
        n_buckets += 1
    eps = np.asarray(epsilons, dtype=np.float64)
    bucket = np.floor(eps / BUCKET)
    return np.where(bucket < n_buckets, 0.5 ** np.minimum(bucket, 60), 0.0)


@dataclass(frozen=True)
class ForgetQuality:
    score: float               # F: mean bucket score over the forget examples, in [0, 1]
    epsilons: np.ndarray       # per forget example, in [0, 50]
    n_models: int              # N models per side
    epsilon_ceiling: float     # ceil(ln(N - 1)): F is not comparable across N

    @property
    def example_scores(self) -> np.ndarray:
        return bucket_scores(self.epsilons, self.n_models)

    def to_dict(self) -> dict:
        return {"score": self.score, "epsilons": [float(e) for e in self.epsilons], "n_models": self.n_models,
                "epsilon_ceiling": self.epsilon_ceiling}


def forget_quality(unlearned_confs: np.ndarray, retrained_confs: np.ndarray) -> ForgetQuality:
    """The NeurIPS-2023 official forgetting quality F from signals of shape (N models, n forget examples) under
    N unlearned models (one Original, N unlearning seeds) and N Retrained models. Per example the positive class
    is the set with the larger median."""
    u = np.asarray(unlearned_confs, dtype=np.float64)
    r = np.asarray(retrained_confs, dtype=np.float64)
    if u.ndim != 2 or u.shape != r.shape:
        raise ValueError(f"forget_quality takes two arrays of the same shape (N models, n examples); got {u.shape} "
                         f"and {r.shape}")
    n_models = u.shape[0]
    if n_models < 2:
        raise ValueError("forget_quality needs at least 2 models per side")
    retrained_positive = np.median(r, axis=0) > np.median(u, axis=0)
    eps = np.array([example_epsilon(r[:, i], u[:, i]) if retrained_positive[i] else example_epsilon(u[:, i], r[:, i])
                    for i in range(u.shape[1])])
    return ForgetQuality(float(bucket_scores(eps, n_models).mean()) if len(eps) else float("nan"), eps, n_models,
                         epsilon_ceiling(n_models))


def final_score(forget_quality_score: float, retain_acc_ratio: float, test_acc_ratio: float) -> float:
    """The competition's final score: F x (retain acc unlearned / Retrained) x (test acc unlearned / Retrained)."""
    return float(forget_quality_score * retain_acc_ratio * test_acc_ratio)


# ----- per-face position against Retrained -----------------------------------------------------------------------

INSIDE, REMEMBERED, OVER_FORGOTTEN = "inside", "remembered", "over-forgotten"


def retrained_band(retrained: np.ndarray, original: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per example, the range Retrained's signal takes: with several Retrained models (N, n) their min..max; with
    one (n,) a band of half the Original-Retrained distance around it, so that "inside" means closer to Retrained
    than to the Original."""
    r = np.asarray(retrained, dtype=np.float64)
    if r.ndim == 2:
        return r.min(axis=0), r.max(axis=0)
    half = np.abs(np.asarray(original, dtype=np.float64) - r) / 2
    return r - half, r + half


def face_positions(unlearned: np.ndarray, retrained: np.ndarray, original: np.ndarray) -> list[str]:
    """Per forget example: "inside" the Retrained band, "remembered" (beyond it on the Original's side) or
    "over-forgotten" (beyond it on the other side: the photo stands out as more wrong than for a model that never
    saw it). `unlearned` is (n,) or (M, n) (then its median per example); `retrained` (n,) or (N, n)."""
    u = np.asarray(unlearned, dtype=np.float64)
    u = np.median(u, axis=0) if u.ndim == 2 else u
    r = np.asarray(retrained, dtype=np.float64)
    o = np.asarray(original, dtype=np.float64)
    lo, hi = retrained_band(r, o)
    centre = np.median(r, axis=0) if r.ndim == 2 else r
    original_above = o >= centre
    out = []
    for value, low, high, above in zip(u, lo, hi, original_above):
        if low <= value <= high:
            out.append(INSIDE)
        elif (value > high) == bool(above):
            out.append(REMEMBERED)
        else:
            out.append(OVER_FORGOTTEN)
    return out


# ----- identity in the features ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DPrime:
    dprime: float
    auc: float
    n_genuine: int
    n_impostor: int

    def to_dict(self) -> dict:
        return {"dprime": self.dprime, "auc": self.auc, "n_genuine": self.n_genuine, "n_impostor": self.n_impostor}


def pair_similarities(features: np.ndarray, identities: np.ndarray, focus: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of the L2-normalised features over all pairs (i < j): (genuine, impostor), genuine
    meaning the same identity. With a boolean `focus`, only pairs with at least one focused sample count."""
    f = np.asarray(features, dtype=np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    ids = np.asarray(identities)
    i, j = np.triu_indices(len(f), k=1)
    if focus is not None:
        keep = np.asarray(focus)[i] | np.asarray(focus)[j]
        i, j = i[keep], j[keep]
    sims = (f @ f.T)[i, j]
    same = ids[i] == ids[j]
    return sims[same], sims[~same]


def _dprime_value(genuine: np.ndarray, impostor: np.ndarray) -> float:
    gap = float(np.mean(genuine) - np.mean(impostor))
    spread = math.sqrt((np.var(genuine) + np.var(impostor)) / 2)
    if spread > 0:
        return gap / spread
    return math.copysign(math.inf, gap) if gap else 0.0  # two constant sets: separated unless equal


def dprime_from(genuine: np.ndarray, impostor: np.ndarray) -> DPrime:
    """d' = (mean_g - mean_i) / sqrt((var_g + var_i) / 2) and the ROC AUC of the similarity telling genuine from
    impostor pairs; NaN when either kind of pair is missing."""
    from sklearn.metrics import roc_auc_score

    if len(genuine) == 0 or len(impostor) == 0:
        return DPrime(float("nan"), float("nan"), len(genuine), len(impostor))
    y = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    auc = float(roc_auc_score(y, np.r_[genuine, impostor]))
    return DPrime(_dprime_value(genuine, impostor), auc, len(genuine), len(impostor))


def identity_dprime(features: np.ndarray, identities: np.ndarray, focus: np.ndarray | None = None) -> DPrime:
    """Verification d' and AUC of genuine (same identity) vs impostor cosine similarities of L2-normalised
    features; `focus` as in `pair_similarities`."""
    return dprime_from(*pair_similarities(features, identities, focus))


def dprime_band(features: np.ndarray, identities: np.ndarray, focus: np.ndarray | None = None,
                n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of d' over pairs (genuine and impostor pairs resampled separately)."""
    genuine, impostor = pair_similarities(features, identities, focus)
    if len(genuine) < 2 or len(impostor) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.array([_dprime_value(rng.choice(genuine, len(genuine)), rng.choice(impostor, len(impostor)))
                       for _ in range(n_boot)])
    return _percentiles(values, level)


# ----- margins and KLoM ------------------------------------------------------------------------------------------

KLOM_BINS = 20
KLOM_BINS_SMALL_BANK = 6   # with N <= 30 models per side, 20 bins are mostly noise
KLOM_FLOOR = 1e-5
KLOM_CLIP = 100.0


def margins(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """z_y - logsumexp_{j != y} z_j per sample (float64)."""
    from scipy.special import logsumexp

    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(z))
    others = z.copy()
    others[rows, np.asarray(targets)] = -np.inf
    return z[rows, np.asarray(targets)] - logsumexp(others, axis=1)


def klom_bins(n_models: int) -> int:
    """The number of histogram bins: 20 as in the reference code, 6 for banks of 30 models or fewer."""
    return KLOM_BINS if n_models > 30 else KLOM_BINS_SMALL_BANK


def klom_per_sample(unlearned_margins: np.ndarray, retrained_margins: np.ndarray, bins: int | None = None
                    ) -> np.ndarray:
    """KL(unlearned || retrained) per sample over `bins` shared bins spanning both sets' pooled range (values
    clipped to +-100), with the retrained probabilities floored at 1e-5 where the unlearned ones are positive.
    Inputs are (models, n samples)."""
    u = np.clip(np.asarray(unlearned_margins, dtype=np.float64), -KLOM_CLIP, KLOM_CLIP)
    r = np.clip(np.asarray(retrained_margins, dtype=np.float64), -KLOM_CLIP, KLOM_CLIP)
    bins = bins or klom_bins(min(len(u), len(r)))
    out = np.empty(u.shape[1])
    for k in range(u.shape[1]):
        lo, hi = min(u[:, k].min(), r[:, k].min()), max(u[:, k].max(), r[:, k].max())
        if hi == lo:
            out[k] = 0.0
            continue
        edges = np.linspace(lo, hi, bins + 1)
        p = np.histogram(u[:, k], edges)[0] / len(u)
        q = np.histogram(r[:, k], edges)[0] / len(r)
        pos = p > 0
        out[k] = float(np.sum(p[pos] * np.log(p[pos] / np.maximum(q[pos], KLOM_FLOOR))))
    return out


def klom(unlearned_margins: np.ndarray, retrained_margins: np.ndarray, bins: int | None = None) -> float:
    """KLoM of one split: the 95th percentile of the per-sample KL."""
    return float(np.percentile(klom_per_sample(unlearned_margins, retrained_margins, bins), 95))


# ----- noise floors and bootstrap --------------------------------------------------------------------------------

def split_halves(n_models: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of range(n_models) of equal size (one model left out when N is odd)."""
    order = np.random.default_rng(seed).permutation(n_models)
    half = n_models // 2
    return np.sort(order[:half]), np.sort(order[half:2 * half])


def noise_floor(metric: Callable[[np.ndarray, np.ndarray], float], retrained: np.ndarray, seed: int = 0):
    """A bank metric of one half of the Retrained models (as if it were the unlearned set) against the other half:
    the best any method can be expected to score with N/2 models per side. `retrained` is (N, ...)."""
    r = np.asarray(retrained)
    if len(r) < 4:
        raise ValueError("a noise floor needs at least 4 Retrained models (2 per half)")
    a, b = split_halves(len(r), seed)
    return metric(r[a], r[b])


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def bootstrap_ci(values: np.ndarray, statistic: Callable[[np.ndarray], float] = np.mean, n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over resamples (with replacement) of `values` (photos)."""
    v = np.asarray(values)
    if len(v) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(v), size=(n_boot, len(v)))
    return _percentiles(np.array([float(statistic(v[d])) for d in draws]), level)


def accuracy_ci(correct: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
                ) -> tuple[float, float]:
    """Bootstrap interval over photos of an accuracy (mean of per-photo correctness)."""
    c = np.asarray(correct, dtype=np.float64)
    if len(c) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = c[rng.integers(0, len(c), size=(n_boot, len(c)))].mean(axis=1)
    return _percentiles(means, level)


# Each resample reruns 10 logistic-regression fits (about 20-30 ms at 24 vs 24 photos on a 2-core CPU): 20
# resamples keep the interval well under 1 s per evaluated model; its tails are coarse at that count.
MIA_CI_BOOT = 20


def mia_accuracy_ci(member_signal: np.ndarray, nonmember_signal: np.ndarray, n_boot: int = MIA_CI_BOOT,
                    seed: int = 0, level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the benchmark's MIA accuracy (`metrics.mia`) over photos: after the
    benchmark's balancing, members and non-members are each resampled with replacement and the same attack is rerun
    (metrics.attack_model over the same metrics.attack_splits folds, which depend only on the
    side sizes, so they are drawn once). None, None when the attack cannot run (too few samples a side)."""
    from mu_core import metrics as M  # here, not at the top: metrics re-exports from this module
    member, nonmember = M.balance(member_signal, nonmember_signal)
    if min(len(member), len(nonmember)) < M.MIN_ATTACK_SIZE:
        return None, None
    _, y = M._attack_data(member, nonmember)
    folds = list(M.attack_splits().split(np.zeros((len(y), 1)), y))
    rng = np.random.default_rng(seed)
    accuracies = []
    with threadpool_limits(1):  # one-feature fits: BLAS threads only contend (20x slower on a loaded machine)
        for _ in range(n_boot):
            x, _ = M._attack_data(member[rng.integers(0, len(member), len(member))],
                                  nonmember[rng.integers(0, len(nonmember), len(nonmember))])
            scores = [M.attack_model().fit(x[train], y[train]).score(x[test], y[test]) for train, test in folds]
            accuracies.append(float(np.mean(scores)))
    low, high = _percentiles(np.array(accuracies), level)
    return (None, None) if math.isnan(low) else (low, high)
