"""Every metric declared once: its key in a result's `metrics` (or the result itself for seconds and time_ratio),
label, direction, unit, definition, the splits it reads and the keys holding its sample sizes. The tables, plots,
CLI, dashboard and evidence pack read labels, order and meaning from here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mu_core import evidence as E
from mu_core import metrics as M
from mu_core import relearn as R
from mu_core.compute import compute_ratio

HIGHER, LOWER, CLOSEST = "higher", "lower", "closest to Retrained"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    direction: str            # HIGHER, LOWER or CLOSEST (is better)
    unit: str
    definition: str
    splits: tuple[str, ...] = ()
    sample_keys: tuple[str, ...] = ()  # metric keys holding its sample sizes
    function: Callable | None = None
    digits: int = 4
    in_result: bool = False   # stored at the top of the result (seconds, time_ratio), not under "metrics"

    @property
    def better(self) -> str:
        """What is better, in words: "higher is better", "lower is better" or "closest to Retrained"."""
        return self.direction if self.direction == CLOSEST else f"{self.direction} is better"


_ALL = [
    Metric("test_acc", "test acc", HIGHER, "share",
           "Accuracy on the test photos (utility: how well the model still does its job on people and photos it "
           "was not asked to forget).", ("test",), function=M.accuracy),
    Metric("top2_acc", "top-2", HIGHER, "share",
           "Share of test photos whose true class is among the model's two highest scores (multi-class only).",
           ("test",), function=M.top_k_accuracy),
    Metric("forget_acc", "forget acc", CLOSEST, "share",
           "Accuracy on the forgotten training photos; the Retrained model shows what never having seen them looks "
           "like.", ("forget",), function=M.accuracy),
    Metric("unseen_acc", "unseen acc", CLOSEST, "share",
           "Accuracy on the held-out photos used as the attack's non-members (in the person scenario: the forgotten "
           "people's own unseen photos).", ("unseen",), function=M.accuracy),
    Metric("retain_acc", "retain acc", HIGHER, "share",
           "Accuracy on the training photos that were kept.", ("retain",), function=M.accuracy),
    Metric("mia_accuracy", "MIA accuracy", CLOSEST, "share",
           "The benchmark's membership-inference attack: a logistic regression on the per-photo loss telling the "
           "forgotten training photos (members) from unseen photos (non-members), balanced and scored by 10-fold "
           "stratified shuffle-split cross-validation. 0.5 means it cannot tell them apart.",
           ("forget", "unseen"), ("mia_n_members", "mia_n_nonmembers")),
    *[Metric(f"mia_accuracy_ci_{end}", f"MIA accuracy CI {end}", CLOSEST, "share",
             f"{pct} percentile of the benchmark's MIA accuracy over {E.MIA_CI_BOOT} bootstrap resamples (seeded) "
             "of the photos: after the benchmark's balancing, members and non-members are each resampled with "
             "replacement and the same attack (same logistic regression, same 10 shuffle splits) is rerun. Empty "
             "when the attack cannot run.", ("forget", "unseen"), ("mia_n_members", "mia_n_nonmembers"),
             E.mia_accuracy_ci)
      for end, pct in (("low", "2.5th"), ("high", "97.5th"))],
    Metric("forgetting_score", "forgetting |MIA-0.5|", LOWER, "share",
           "|MIA accuracy - 0.5|: what the benchmark's README tables print under the heading \"MIA\".",
           ("forget", "unseen"), ("mia_n_members", "mia_n_nonmembers"), M.forgetting_score),
    Metric("nomus", "NoMUS", CLOSEST, "score",
           "lam x test acc + (1 - lam) x (1 - 2 x |MIA accuracy - 0.5|), lam = 0.5: the benchmark's single score.",
           ("test", "forget", "unseen"), ("mia_n_members", "mia_n_nonmembers"), M.nomus),
    Metric("mia_auc", "attack AUC", CLOSEST, "share",
           "ROC AUC of a threshold attack on the same loss signal (lower loss = member); noisy on small sets.",
           ("forget", "unseen"), ("mia_n_members", "mia_n_nonmembers")),
    Metric("tpr_at_1pct_fpr", "TPR at 1% FPR", LOWER, "share",
           "True-positive rate of the threshold attack at a 1% false-positive rate; noisy on small sets.",
           ("forget", "unseen"), ("mia_n_members", "mia_n_nonmembers")),
    Metric("mia_efficacy", "MIA efficacy", CLOSEST, "share",
           "SalUn's convention: an attack fitted on retain (members) vs test (non-members) losses, applied to the "
           "forgotten photos; the share it calls non-members.", ("retain", "test", "forget"),
           function=M.mia_efficacy),
    Metric("gap_to_retrained", "gap to Retrained", LOWER, "share",
           "Mean absolute difference to the Retrained model over forget acc, retain acc, test acc and MIA accuracy.",
           ("forget", "retain", "test", "unseen"), function=M.gap_to_retrained),
    Metric("seconds", "seconds", LOWER, "s", "Wall-clock seconds of the run (training for a baseline).",
           digits=1, in_result=True),
    Metric("time_ratio", "time ratio", LOWER, "ratio",
           "Seconds over the Retrained model's training seconds; depends on the machine's load.", digits=3,
           in_result=True),
    Metric("compute_ratio", "compute ratio", LOWER, "ratio",
           "Floating-point operations of the run (counted with torch.utils.flop_counter) over those of training "
           "the Retrained model: independent of the machine and its load.", function=compute_ratio),
    Metric("flops", "FLOPs", LOWER, "FLOP", "Floating-point operations of the run, counted with "
           "torch.utils.flop_counter (forward, backward and optimizer).", digits=0),
    Metric("forget_loss_mean", "forget loss", CLOSEST, "nats",
           "Mean cross-entropy on the forgotten training photos.", ("forget",)),
    Metric("unseen_loss_mean", "unseen loss", CLOSEST, "nats",
           "Mean cross-entropy on the attack's non-member photos.", ("unseen",)),
    Metric("identity_dprime", "identity d'", CLOSEST, "d'",
           "Verification d' of the forgotten people in the penultimate features: genuine (same person) vs impostor "
           "cosine similarities of L2-normalised features over pairs of their photos (training and unseen), "
           "(mean_g - mean_i) / sqrt((var_g + var_i) / 2). Compared with Retrained's: a model that only changed "
           "its head keeps the Original's value.", ("forget", "unseen"),
           ("identity_n_genuine", "identity_n_impostor"), E.identity_dprime),
    Metric("identity_auc", "identity AUC", CLOSEST, "share",
           "ROC AUC of the same cosine similarity telling the forgotten people's genuine pairs from impostor pairs.",
           ("forget", "unseen"), ("identity_n_genuine", "identity_n_impostor"), E.identity_dprime),
    Metric("forget_quality", "forget quality F", HIGHER, "score",
           "The NeurIPS-2023 official forgetting quality: per forgotten photo, the epsilon of the best single- or "
           "double-threshold attack telling N unlearned models (N unlearning seeds) from N Retrained models by the "
           "logit-scaled confidence (delta 1e-5, cap 50; a peaky, e.g. deterministic, method gets the cap), "
           "scored 1, 1/2, 1/4 ... in 0.5-wide buckets up to ceil(ln(N - 1)); F = mean. Not comparable across N.",
           ("forget",), ("forget_quality_n_models",), E.forget_quality),
    Metric("forget_quality_final", "final score", HIGHER, "score",
           "F x (retain acc unlearned / Retrained) x (test acc unlearned / Retrained), with mean accuracies over "
           "the N models.", ("forget", "retain", "test"), ("forget_quality_n_models",), E.final_score),
    Metric("epsilon_ceiling", "epsilon ceiling", HIGHER, "epsilon",
           "ceil(ln(N - 1)): the largest epsilon N models per side can resolve; a photo at or beyond it scores 0.",
           (), ("forget_quality_n_models",), E.epsilon_ceiling, digits=0),
    Metric("forget_quality_floor", "F noise floor", HIGHER, "score",
           "F of one half of the Retrained models against the other half (N/2 models per side): the best a "
           "method can be expected to score at that N.", ("forget",), ("forget_quality_n_models",)),
    Metric("relearn_steps", "relearn steps", CLOSEST, "steps",
           f"Optimizer steps of fine-tuning a copy of the model on the forgotten photos (the recipe's optimizer and "
           f"batch size at a constant {R.LR_SHARE} x its lr, fp32, no augmentation, seeded) until its forget "
           f"accuracy reaches {R.TARGET_SHARE} x the Original's; capped at {R.MAX_STEPS} steps "
           "(relearn_capped). Costs training, so it is computed only on request (mu_core.relearn.relearn_metrics), "
           "never in the default runs.", ("forget",), function=R.relearn_steps, digits=0),
    Metric("relearn_ratio", "relearn ratio", CLOSEST, "ratio",
           "(relearn steps + 0.01) / (Retrained's relearn steps + 0.01), as in the anamnesis index: well below 1, "
           "the model relearns the forgotten photos faster than one that never saw them (it still remembers).",
           ("forget",), function=R.relearn_ratio, digits=3),
    *[Metric(f"klom_{split}", f"KLoM {split}", LOWER, "nats",
             f"KLoM on the {noun}: per photo, KL(unlearned || Retrained) between histograms of the margin z_y - "
             "logsumexp of the other logits over N models each (shared bins: 20, or 6 with N <= 30; Retrained "
             "floored at 1e-5); the 95th percentile over photos.", (split,), ("klom_bins",), E.klom)
      for split, noun in (("forget", "forgotten photos"), ("retain", "kept training photos"),
                          ("test", "test photos"))],
    *[Metric(f"klom_{split}_floor", f"KLoM {split} noise floor", LOWER, "nats",
             f"KLoM on the {split} split of one half of the Retrained models against the other half: the best a "
             "method can be expected to reach with N/2 models per side.", (split,), ("klom_bins",), E.klom)
      for split in ("forget", "retain", "test")],
]

REGISTRY: dict[str, Metric] = {m.key: m for m in _ALL}

# What each sample-size key (a metric's `sample_keys`) counts, in words for tables and reports.
SAMPLE_SIZES = {"mia_n_members": "members (forgotten photos)", "mia_n_nonmembers": "non-members (unseen photos)",
                "identity_n_genuine": "genuine pairs", "identity_n_impostor": "impostor pairs",
                "forget_quality_n_models": "models a side", "klom_bins": "bins"}

# The CLI's and README's table columns, in the benchmark README's order.
TABLE_KEYS = ("test_acc", "top2_acc", "forget_acc", "unseen_acc", "mia_accuracy", "forgetting_score", "nomus",
              "gap_to_retrained", "seconds", "time_ratio", "compute_ratio")


def get_metric(key: str) -> Metric:
    if key not in REGISTRY:
        raise KeyError(f"unknown metric {key!r}")
    return REGISTRY[key]


def label(key: str) -> str:
    return get_metric(key).label

