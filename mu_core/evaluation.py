"""The one evaluation path: each model runs once, in eval mode without augmentation, over the samples of every
split; per-sample outputs are kept and all metrics are computed from them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from mu_core import evidence as E
from mu_core import metrics as M
from mu_core.data import Dataset, Splits
from mu_core.data.transforms import to_float
from mu_core.models import EVAL_BATCH, in_chunks, outputs_and_features
from mu_core.task import correctness, loss_per_sample, predictions, probabilities

SPLITS = ("forget", "retain", "test", "unseen")


@dataclass
class SplitOutputs:
    indices: np.ndarray
    labels: np.ndarray
    logits: np.ndarray
    loss: np.ndarray        # per-sample CE (mean BCE over attributes for multi-label): the MIA signal
    confidence: np.ndarray  # probability of the predicted class (mean over attributes for multi-label)
    entropy: np.ndarray
    pred: np.ndarray
    correct: np.ndarray     # 0/1 (share of attributes right for multi-label)
    features: np.ndarray    # float32 penultimate features (the input of the final `fc`), for identity checks


@dataclass
class Evaluation:
    splits: dict[str, SplitOutputs]

    def __getitem__(self, name: str) -> SplitOutputs:
        return self.splits[name]


@torch.inference_mode()
def forward_outputs(model: nn.Module, x: torch.Tensor, y: torch.Tensor, kind: str, device: torch.device,
                    batch_size: int = EVAL_BATCH) -> dict[str, np.ndarray]:
    """Per-sample outputs of `model` on uint8 images `x` (eval mode, no augmentation), with the penultimate
    features from the same forward pass."""
    model.eval().to(device)

    def chunk(xb: torch.Tensor, yb: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, features = outputs_and_features(model, to_float(xb.to(device)))
        return {**_outputs(logits.float(), yb.to(device), kind), "features": features.float()}

    chunks = in_chunks(chunk, x, y, batch_size=batch_size)
    return {k: torch.cat([c[k] for c in chunks]).cpu().numpy() for k in chunks[0]}


def _outputs(logits: torch.Tensor, target: torch.Tensor, kind: str) -> dict[str, torch.Tensor]:
    p = probabilities(logits, kind)
    if kind == "multilabel":
        confidence = torch.where(logits > 0, p, 1 - p).mean(dim=1)
        entropy = -(p * p.clamp_min(1e-12).log() + (1 - p) * (1 - p).clamp_min(1e-12).log()).mean(dim=1)
    else:
        confidence = p.max(dim=1).values
        entropy = -(p * p.clamp_min(1e-12).log()).sum(dim=1)
    return {"logits": logits, "loss": loss_per_sample(logits, target, kind), "confidence": confidence,
            "entropy": entropy, "pred": predictions(logits, kind), "correct": correctness(logits, target, kind)}


def evaluate(model: nn.Module, ds: Dataset, splits: Splits, device: torch.device, image_size: int) -> Evaluation:
    """One forward pass over the union of the splits' samples, then sliced per split."""
    needed = np.unique(np.concatenate([getattr(splits, s) for s in SPLITS]))
    x = ds.images(image_size)[torch.from_numpy(needed)]
    out = forward_outputs(model, x, ds.label_tensor(needed), ds.kind, device)
    position = {int(i): p for p, i in enumerate(needed)}
    result = {}
    for name in SPLITS:
        idx = getattr(splits, name)
        rows = np.array([position[int(i)] for i in idx], dtype=np.int64)
        result[name] = SplitOutputs(indices=idx, labels=np.asarray(ds.labels[idx]),
                                    **{k: v[rows] for k, v in out.items()})
    return Evaluation(result)


def model_metrics(ev: Evaluation, ds: Dataset, retrained: dict | None = None) -> dict:
    """All metrics of one evaluation (names are part of the interface). `retrained` (the Retrained model's
    metrics) adds `gap_to_retrained`."""
    test, forget = ev["test"], ev["forget"]
    attack = M.mia(forget.loss, ev["unseen"].loss)
    ci_low, ci_high = E.mia_accuracy_ci(forget.loss, ev["unseen"].loss)
    m = {
        "test_acc": M.accuracy(test.correct),
        "forget_acc": M.accuracy(forget.correct),
        "retain_acc": M.accuracy(ev["retain"].correct),
        "unseen_acc": M.accuracy(ev["unseen"].correct),
        "per_class_acc": M.per_class_accuracy(test.pred, test.labels, ds.class_names),
        "per_class_forget_acc": M.per_class_accuracy(forget.pred, forget.labels, ds.class_names),
        "mia_accuracy": attack.accuracy,
        "mia_accuracy_std": attack.accuracy_std,
        "mia_accuracy_ci_low": ci_low,
        "mia_accuracy_ci_high": ci_high,
        "forgetting_score": attack.forgetting_score,
        "nomus": M.nomus(M.accuracy(test.correct), attack.accuracy),
        "mia_auc": attack.auc,
        "tpr_at_1pct_fpr": attack.tpr_at_1pct_fpr,
        "mia_n_members": attack.n_members,
        "mia_n_nonmembers": attack.n_nonmembers,
        "mia_efficacy": M.mia_efficacy(*(M.true_class_confidence(ev[s].logits, ev[s].labels)
                                         for s in ("retain", "test", "forget"))),
        "forget_loss_mean": float(np.mean(forget.loss)),
        "unseen_loss_mean": float(np.mean(ev["unseen"].loss)),
    }
    if ds.kind == "multiclass":
        m["top2_acc"] = M.top_k_accuracy(test.logits, test.labels, 2)
    return with_gap(m, retrained)


def scalar_metrics(metrics: dict) -> dict:
    """`metrics` without the nested ones (per-class tables and the like): what a checkpoint's metadata and a
    reference bank keep of a model's metrics."""
    return {k: v for k, v in metrics.items() if not isinstance(v, dict)}


def with_gap(metrics: dict, retrained: dict | None) -> dict:
    """`metrics` with `gap_to_retrained` added when `retrained` (the Retrained model's metrics) is given."""
    return metrics if retrained is None else {**metrics, "gap_to_retrained": M.gap_to_retrained(metrics, retrained)}
