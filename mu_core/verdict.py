"""The verdict: did the model forget these faces, and what did it cost? Built from checks, each with
its value, the Retrained reference, its band or noise floor and a sentence; always against Retrained, never
against 0.5 or the Original alone. A verdict never claims forgetting that was not shown.

Levels:
- "basic" (the Original and one Retrained model): recognition, utility, identity in the features and
  over-forgetting are decided against bands from bootstrapping the single Retrained model (over photos, or over
  pairs for d'); membership cannot be decided (one Retrained model gives no distribution), so `forgotten` is at
  best null ("cannot tell") and the check says what would decide it.
- "bank" (N Retrained models and the method run N times): the bands span the bootstrap bands of all N Retrained
  models (the bank's own range alone is too narrow: a new draw exceeds the max of N with probability 1/(N+1)), and
  membership is the official forgetting quality with its noise floor from split halves.

Thresholds (each check can pass and fail):
- recognition passes when the forget accuracy (and, for forgotten people, the accuracy on their unseen photos) is
  at or below the top of the Retrained band: a model that still recognises more photos than Retrained plausibly
  would has not forgotten;
- utility passes when the 95% bootstrap interval of the unlearned test (and retain) accuracy reaches the bottom of
  the Retrained band (not shown to be worse than Retrained);
- identity_features passes when the forgotten people's verification d' is at or below the top of the Retrained
  band (person scenarios; the photos scenario keeps the people enrolled, so it does not apply);
- over_forgetting fails when the forget-set mean loss is above the top of the Retrained band, or the forget
  accuracy below its bottom (the photos now stand out as more wrong than for a model that never saw them);
- membership (bank, N >= 6) passes when, on the split halves (N/2 models a side), the method's per-photo scores
  are not significantly below the noise floor of Retrained against Retrained (the upper end of the 95% paired
  bootstrap interval over photos of their difference is at least 0);
- cost informs (compute and time ratios) and never decides."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mu_core import evidence as E
from mu_core.jsonio import clean
from mu_core.data import Dataset
from mu_core.evaluation import Evaluation

DECIDING = ("recognition", "utility", "membership", "identity_features", "over_forgetting")
SUGGESTED_BANK = 16
MIN_BANK_FOR_MEMBERSHIP = 6   # halves of 3 models: the smallest with a non-zero epsilon ceiling (ceil(ln 2) = 1)
N_BOOT = 1000
MAX_IDENTITY_PHOTOS = 2000


@dataclass
class Check:
    name: str
    passed: bool | None
    value: object = None
    reference: object = None
    floor: object = None      # the band or noise floor the value was judged against (a [low, high] pair or a number)
    text: str = ""
    applicable: bool = True   # False: the check does not apply here (it neither decides nor blocks the verdict)
    failure: str = ""         # what a failed check means, for the summary sentence

    def to_dict(self) -> dict:
        return {"name": self.name, "pass": self.passed, "value": clean(self.value),
                "reference": clean(self.reference), "floor": clean(self.floor), "text": self.text}


@dataclass
class Verdict:
    forgotten: bool | None
    level: str
    n_models: int
    checks: list[Check] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict:
        return {"forgotten": self.forgotten, "level": self.level, "n_models": self.n_models,
                "checks": [c.to_dict() for c in self.checks], "summary": self.summary}

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


@dataclass
class BankEvidence:
    """The reference bank of an experiment: N Retrained models and the method run N times from the same Original
    with N unlearning seeds, each evaluated by the one evaluation path."""

    retrained: list[Evaluation]
    unlearned: list[Evaluation]

    @property
    def n_models(self) -> int:
        return len(self.retrained)


# ----- what is measured on one evaluation ------------------------------------------------------------------------

def _acc(ev: Evaluation, split: str) -> float:
    return float(np.mean(ev[split].correct)) if len(ev[split].correct) else float("nan")


def _count(ev: Evaluation, split: str) -> str:
    c = ev[split].correct
    return f"{int(round(float(np.sum(c))))} of {len(c)}"


RECOGNITION_NOUNS = {"forget": "forgotten training photos", "unseen": "their unseen photos"}


def _identity_photos(ev: Evaluation, ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Features and identities of the forgotten people's photos (training and unseen); with a single forgotten
    person (no impostor pair among them), the test photos of the other people join as impostors. At most
    MAX_IDENTITY_PHOTOS photos of each kind (a fixed, seeded subsample) keep the pair matrix small."""
    feats, ids = _capped(np.concatenate([ev["forget"].features, ev["unseen"].features]),
                         ds.identities[np.concatenate([ev["forget"].indices, ev["unseen"].indices])])
    if len(np.unique(ids)) >= 2:
        return feats, ids, None
    other_feats, others = _capped(ev["test"].features, ds.identities[ev["test"].indices])
    focus = np.r_[np.ones(len(ids), bool), np.zeros(len(others), bool)]
    return np.concatenate([feats, other_feats]), np.r_[ids, others], focus


def _capped(feats: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(ids) <= MAX_IDENTITY_PHOTOS:
        return feats, ids
    keep = np.sort(np.random.default_rng(0).choice(len(ids), MAX_IDENTITY_PHOTOS, replace=False))
    return feats[keep], ids[keep]


def _dprime(ev: Evaluation, ds: Dataset) -> E.DPrime:
    return E.identity_dprime(*_identity_photos(ev, ds))


def identity_metrics(ev: Evaluation, ds: Dataset, scenario: str) -> dict:
    """identity_dprime, identity_auc and their pair counts for person scenarios (empty otherwise)."""
    if not _is_identity(ds, scenario):
        return {}
    d = _dprime(ev, ds)
    return {"identity_dprime": d.dprime, "identity_auc": d.auc, "identity_n_genuine": d.n_genuine,
            "identity_n_impostor": d.n_impostor}


def _is_identity(ds: Dataset, scenario: str) -> bool:
    return scenario in ds.scenarios and ds.scenarios[scenario].kind == "identity"


# ----- bands -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    low: float
    high: float
    centre: float
    how: str     # how the band was made, for the check's text

    def pair(self) -> list[float]:
        return [self.low, self.high]


def _band(stat: Callable[[Evaluation], float], retrained: Evaluation, bank: BankEvidence | None,
          bootstrap: Callable[[Evaluation], tuple[float, float]]) -> Band:
    if bank is not None:  # the union of every bank model's bootstrap band: a new draw lands in it by chance
        values = np.array([stat(ev) for ev in bank.retrained], dtype=np.float64)
        bands = np.array([bootstrap(ev) for ev in bank.retrained], dtype=np.float64)
        return Band(float(np.nanmin(bands[:, 0])), float(np.nanmax(bands[:, 1])), float(np.nanmedian(values)),
                    f"range of the 95% bootstrap bands of {len(values)} Retrained models")
    low, high = bootstrap(retrained)
    return Band(low, high, stat(retrained), "95% bootstrap band of the Retrained model")


def _acc_band(split: str, retrained: Evaluation, bank: BankEvidence | None) -> Band:
    return _band(lambda ev: _acc(ev, split), retrained, bank,
                 lambda ev: E.accuracy_ci(ev[split].correct, N_BOOT))


def _f(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


# ----- the checks ------------------------------------------------------------------------------------------------

def recognition_check(original: Evaluation, retrained: Evaluation, unlearned: Evaluation, ds: Dataset,
                      scenario: str, bank: BankEvidence | None = None) -> Check:
    splits = ["forget"] + (["unseen"] if _is_identity(ds, scenario) else [])
    parts, passed, value, reference, floor = [], True, {}, {}, {}
    for split in splits:
        band = _acc_band(split, retrained, bank)
        acc = _acc(unlearned, split)
        ok = acc <= band.high + 1e-12
        passed &= ok
        value[f"{split}_acc"], reference[f"{split}_acc"], floor[f"{split}_acc"] = acc, band.centre, band.pair()
        parts.append(f"{RECOGNITION_NOUNS[split]}: recognised in {_count(unlearned, split)} (Original "
                     f"{_count(original, split)}; Retrained {_count(retrained, split)}, {band.how} "
                     f"{_f(band.low)}-{_f(band.high)})")
    text = "; ".join(parts) + (". At or below Retrained: passes." if passed else
                               ". More than Retrained plausibly would: fails.")
    return Check("recognition", bool(passed), value, reference, floor, text[0].upper() + text[1:],
                 failure="the model still recognises the forgotten photos more often than a model that never saw "
                         "them")


def utility_check(retrained: Evaluation, unlearned: Evaluation, bank: BankEvidence | None = None) -> Check:
    parts, passed, value, reference, floor = [], True, {}, {}, {}
    for split in ("test", "retain"):
        band = _acc_band(split, retrained, bank)
        acc = _acc(unlearned, split)
        low, high = E.accuracy_ci(unlearned[split].correct, N_BOOT)
        ok = high >= band.low - 1e-12
        passed &= ok
        value[f"{split}_acc"], reference[f"{split}_acc"], floor[f"{split}_acc"] = acc, band.centre, band.pair()
        parts.append(f"{split} accuracy {_f(acc, 3)} (95% interval {_f(low, 3)}-{_f(high, 3)}) vs Retrained "
                     f"{_f(band.centre, 3)} ({band.how} {_f(band.low, 3)}-{_f(band.high, 3)})")
    text = "; ".join(parts) + (". Not shown to be worse than Retrained: passes." if passed else
                               ". Clearly below Retrained: fails.")
    return Check("utility", bool(passed), value, reference, floor, text[0].upper() + text[1:],
                 failure="the model lost accuracy on the people and photos it should keep")


def identity_check(original: Evaluation, retrained: Evaluation, unlearned: Evaluation, ds: Dataset,
                   scenario: str, bank: BankEvidence | None = None) -> Check:
    if not _is_identity(ds, scenario):
        return Check("identity_features", None, text="Not applicable: in this scenario the people stay enrolled "
                     "(their other photos are still trained on), so their identity is meant to stay in the "
                     "features.", applicable=False)
    band = _band(lambda ev: _dprime(ev, ds).dprime, retrained, bank,
                 lambda ev: E.dprime_band(*_identity_photos(ev, ds), n_boot=N_BOOT))
    d, d_original = _dprime(unlearned, ds), _dprime(original, ds).dprime
    if not math.isfinite(d.dprime) or not math.isfinite(band.high):
        return Check("identity_features", None, clean(d.dprime), band.centre, band.pair(),
                     f"Cannot tell: too few photo pairs ({d.n_genuine} genuine, {d.n_impostor} impostor).")
    passed = d.dprime <= band.high + 1e-12
    text = (f"The forgotten people's verification d' in the face features is {_f(d.dprime)} (AUC {_f(d.auc, 3)}; "
            f"{d.n_genuine} genuine and {d.n_impostor} impostor pairs) against Retrained {_f(band.centre)} "
            f"({band.how} {_f(band.low)}-{_f(band.high)}); Original {_f(d_original)}. "
            + ("Their identity is no more separable than for a model that never saw them: passes." if passed else
               "A face-verification system built on these features still tells them apart better than Retrained "
               "would: fails."))
    return Check("identity_features", passed, {"dprime": d.dprime, "auc": d.auc, "original_dprime": d_original},
                 band.centre, band.pair(), text,
                 failure="the face features still identify the forgotten people")


def over_forgetting_check(retrained: Evaluation, unlearned: Evaluation, bank: BankEvidence | None = None,
                          original: Evaluation | None = None) -> Check:
    loss_band = _band(lambda ev: float(np.mean(ev["forget"].loss)), retrained, bank,
                      lambda ev: E.bootstrap_ci(ev["forget"].loss, n_boot=N_BOOT))
    acc_band = _acc_band("forget", retrained, bank)
    loss, acc = float(np.mean(unlearned["forget"].loss)), _acc(unlearned, "forget")
    too_wrong, too_low = loss > loss_band.high + 1e-12, acc < acc_band.low - 1e-12
    passed = not (too_wrong or too_low)
    faces = _face_counts(retrained, unlearned, bank, original)
    text = (f"Forget-set mean loss {_f(loss)} vs Retrained {_f(loss_band.centre)} ({loss_band.how} "
            f"{_f(loss_band.low)}-{_f(loss_band.high)}); forget accuracy {_f(acc)} vs the bottom of Retrained's "
            f"band {_f(acc_band.low)}" + (f"; per photo: {faces}" if faces else "") + ". "
            + ("Not beyond Retrained: passes." if passed else
               "The forgotten photos now stand out as more wrong than for a model that never saw them (itself a "
               "membership signal): fails."))
    value = {"forget_loss_mean": loss, "forget_acc": acc}
    return Check("over_forgetting", passed, value, {"forget_loss_mean": loss_band.centre},
                 {"forget_loss_mean": loss_band.pair(), "forget_acc": acc_band.pair()}, text,
                 failure="the forgotten photos stand out as more wrong than for a model that never saw them")


def _face_counts(retrained: Evaluation, unlearned: Evaluation, bank: BankEvidence | None,
                 original: Evaluation | None) -> str:
    """Counts of the per-face positions (inside / remembered / over-forgotten) on the logit-scaled confidence."""
    if original is None or unlearned["forget"].labels.ndim != 1:
        return ""
    conf = lambda ev: E.logit_scaled_confidence(ev["forget"].logits, ev["forget"].labels)  # noqa: E731
    if bank is not None:
        positions = E.face_positions(np.stack([conf(ev) for ev in bank.unlearned]),
                                     np.stack([conf(ev) for ev in bank.retrained]), conf(original))
    else:
        positions = E.face_positions(conf(unlearned), conf(retrained), conf(original))
    return ", ".join(f"{positions.count(p)} {p}" for p in (E.INSIDE, E.REMEMBERED, E.OVER_FORGOTTEN))


def membership_check(original: Evaluation, bank: BankEvidence | None) -> Check:
    if bank is None:
        return Check("membership", None, text=(
            "Cannot tell at this level: one Retrained model gives no distribution to compare each photo's "
            f"confidence with. Build a reference bank of {SUGGESTED_BANK} Retrained models (python -m mu_core "
            f"references --n {SUGGESTED_BANK}) to decide, per photo, with the NeurIPS-2023 forgetting quality."),
            failure="")
    n = bank.n_models
    if len(bank.unlearned) != n:
        raise ValueError(f"the bank has {n} Retrained models but {len(bank.unlearned)} unlearning runs")
    if original["forget"].labels.ndim != 1:
        return Check("membership", None, text="Cannot tell: the official forgetting quality needs one true class "
                     "per photo (multi-label heads have none).")
    conf = lambda ev: E.logit_scaled_confidence(ev["forget"].logits, ev["forget"].labels)  # noqa: E731
    u = np.stack([conf(ev) for ev in bank.unlearned])
    r = np.stack([conf(ev) for ev in bank.retrained])
    fq = E.forget_quality(u, r)
    positions = E.face_positions(u, r, conf(original))
    value = {"forget_quality": fq.score, "n_models": n, "epsilon_ceiling": fq.epsilon_ceiling,
             "inside": positions.count(E.INSIDE), "remembered": positions.count(E.REMEMBERED),
             "over_forgotten": positions.count(E.OVER_FORGOTTEN)}
    head = (f"Forgetting quality F = {_f(fq.score, 3)} with N = {n} models a side (epsilon ceiling "
            f"{fq.epsilon_ceiling:.0f}; F is not comparable across N); per photo {value['inside']} inside the "
            f"Retrained range, {value['remembered']} remembered, {value['over_forgotten']} over-forgotten.")
    if n < MIN_BANK_FOR_MEMBERSHIP:
        return Check("membership", None, value, text=head + f" Cannot tell: the noise floor needs at least "
                     f"{MIN_BANK_FOR_MEMBERSHIP} models (halves of 3); build a bank of {SUGGESTED_BANK}.")
    a, b = E.split_halves(n)
    floor = E.forget_quality(r[a], r[b])
    half = E.forget_quality(u[a], r[b])
    _, high = E.bootstrap_ci(half.example_scores - floor.example_scores, n_boot=N_BOOT)
    passed = high >= -1e-12
    value["forget_quality_half"] = half.score
    peaky = " A deterministic method gets the cap (epsilon 50) by the official peaky-distribution rule." \
        if np.all(fq.epsilons >= E.EPSILON_CAP) else ""
    text = head + (f" On the halves ({len(a)} vs {len(b)} models) the method scores {_f(half.score, 3)} against "
                   f"the noise floor {_f(floor.score, 3)} of Retrained against Retrained: "
                   + ("indistinguishable from Retrained at this N: passes." if passed else
                      "the photos' confidence still separates the method from Retrained: fails.") + peaky)
    return Check("membership", passed, value, {"forget_quality_half": floor.score}, floor.score, text,
                 failure="an attack on each photo's confidence still tells the model from one that never saw it")


def _cost_phrase(cost: dict) -> str:
    compute, time_ratio = clean(cost.get("compute_ratio")), clean(cost.get("time_ratio"))
    parts = []
    if compute is not None:
        parts.append(f"{100 * compute:.1f}% of the compute of retraining")
    if time_ratio is not None:
        parts.append(f"{100 * time_ratio:.1f}% of its wall time")
    return " and ".join(parts) if parts else "an unknown cost"


def cost_check(cost: dict) -> Check:
    value = {"compute_ratio": cost.get("compute_ratio"), "time_ratio": cost.get("time_ratio")}
    return Check("cost", None, value, 1.0, None, f"Cost: {_cost_phrase(cost)} (informs, does not decide).",
                 applicable=False)


# ----- the verdict -----------------------------------------------------------------------------------------------

def _decide(checks: list[Check]) -> bool | None:
    deciding = [c for c in checks if c.name in DECIDING and c.applicable]
    if any(c.passed is False for c in deciding):
        return False
    if any(c.passed is None for c in deciding):
        return None
    return True


def _summary(forgotten: bool | None, checks: list[Check], n_photos: int, cost: dict) -> str:
    photos = f"{n_photos} photo{'s' if n_photos != 1 else ''}"
    if forgotten is True:
        return (f"Forgotten: on every check the model treats the {photos} like a model that never saw them, "
                f"at {_cost_phrase(cost)}.")
    if forgotten is False:
        failed = [c.failure for c in checks if c.passed is False and c.name in DECIDING and c.applicable]
        return f"Not forgotten: {'; '.join(failed)}."
    open_checks = [c.name.replace("_", " ") for c in checks if c.name in DECIDING and c.applicable
                   and c.passed is None]
    decide = (f"; a reference bank of {SUGGESTED_BANK} Retrained models would decide" if "membership" in open_checks
              else "")
    return (f"Cannot tell with this evidence: the checks that could run pass, but {', '.join(open_checks)} could "
            f"not be decided{decide}.")


def _verdict(original: Evaluation, retrained: Evaluation, unlearned: Evaluation, ds: Dataset, scenario: str,
             cost: dict, bank: BankEvidence | None) -> Verdict:
    checks = [
        recognition_check(original, retrained, unlearned, ds, scenario, bank),
        utility_check(retrained, unlearned, bank),
        membership_check(original, bank),
        identity_check(original, retrained, unlearned, ds, scenario, bank),
        over_forgetting_check(retrained, unlearned, bank, original),
        cost_check(cost),
    ]
    forgotten = _decide(checks)
    return Verdict(forgotten, "bank" if bank else "basic", bank.n_models if bank else 1, checks,
                   _summary(forgotten, checks, len(unlearned["forget"].indices), cost))


def basic_verdict(original: Evaluation, retrained: Evaluation, unlearned: Evaluation, dataset: Dataset,
                  scenario: str, cost: dict) -> Verdict:
    """The verdict from the Original and one Retrained model (membership cannot be decided at this level)."""
    return _verdict(original, retrained, unlearned, dataset, scenario, cost, None)


def bank_verdict(original: Evaluation, retrained: Evaluation, unlearned: Evaluation, dataset: Dataset,
                 scenario: str, cost: dict, bank: BankEvidence) -> Verdict:
    """The verdict with a reference bank: the bank's distributions replace the bootstrap bands, and membership is
    decided per photo by the official forgetting quality against its split-half noise floor."""
    if bank.n_models < 2:
        raise ValueError("a reference bank needs at least 2 Retrained models")
    return _verdict(original, retrained, unlearned, dataset, scenario, cost, bank)


def bank_metrics(bank: BankEvidence) -> dict:
    """The bank's metrics under their registry keys: the official forgetting quality F (with N, its epsilon ceiling,
    the split-half noise floor and the final score) and KLoM per split with its split-half noise floor and the bins
    used (6 with N <= 30: with so few models 20 bins are mostly noise). Values that cannot be
    computed (a multi-label head, a bank too small for halves) are None."""
    n = bank.n_models
    out: dict = {"forget_quality_n_models": n, "epsilon_ceiling": E.epsilon_ceiling(n)}
    if bank.retrained[0]["forget"].labels.ndim != 1:
        return out
    u, r = (np.stack([E.logit_scaled_confidence(ev["forget"].logits, ev["forget"].labels) for ev in evs])
            for evs in (bank.unlearned, bank.retrained))
    fq = E.forget_quality(u, r)
    ratio = {split: np.mean([_acc(ev, split) for ev in bank.unlearned]) /
             np.mean([_acc(ev, split) for ev in bank.retrained]) for split in ("retain", "test")}
    out.update(forget_quality=fq.score, forget_quality_final=E.final_score(fq.score, ratio["retain"], ratio["test"]),
               forget_quality_floor=(E.noise_floor(lambda a, b: E.forget_quality(a, b).score, r)
                                     if n >= MIN_BANK_FOR_MEMBERSHIP else None),
               klom_bins=E.klom_bins(n))
    for split in ("forget", "retain", "test"):
        margins = [np.stack([E.margins(ev[split].logits, ev[split].labels) for ev in evs])
                   for evs in (bank.unlearned, bank.retrained)]
        out[f"klom_{split}"] = E.klom(*margins)
        out[f"klom_{split}_floor"] = (E.noise_floor(E.klom, margins[1]) if n >= MIN_BANK_FOR_MEMBERSHIP else None)
    return clean(out)
