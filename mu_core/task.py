"""What the task kind (multi-class, binary, multi-label) means for losses, predictions and correctness."""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

TaskKind = Literal["multiclass", "binary", "multilabel"]


def loss_per_sample(logits: torch.Tensor, y: torch.Tensor, kind: TaskKind) -> torch.Tensor:
    """CE per sample, or BCE-with-logits averaged over the labels of a sample (the benchmark's MIA signal)."""
    if kind == "multilabel":
        return F.binary_cross_entropy_with_logits(logits, y.float(), reduction="none").mean(dim=1)
    return F.cross_entropy(logits, y, reduction="none")


def task_loss(logits: torch.Tensor, y: torch.Tensor, kind: TaskKind) -> torch.Tensor:
    """Mean training loss of a batch."""
    return loss_per_sample(logits, y, kind).mean()


def probabilities(logits: torch.Tensor, kind: TaskKind) -> torch.Tensor:
    return torch.sigmoid(logits) if kind == "multilabel" else torch.softmax(logits, dim=1)


def predictions(logits: torch.Tensor, kind: TaskKind) -> torch.Tensor:
    return (logits > 0).long() if kind == "multilabel" else logits.argmax(dim=1)


def correctness(logits: torch.Tensor, y: torch.Tensor, kind: TaskKind) -> torch.Tensor:
    """Per-sample correctness in [0, 1]; for multi-label the share of attributes right, so that the mean over
    samples is the mean of the per-attribute accuracies (the benchmark's multi-label accuracy)."""
    pred = predictions(logits, kind)
    if kind == "multilabel":
        return (pred == y.long()).float().mean(dim=1)
    return (pred == y).float()

