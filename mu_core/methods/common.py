"""Pieces several methods share: optimizers, the distillation KL, output targets."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from mu_core.task import TaskKind


def optimizer(params, name: str, lr: float, momentum: float = 0.0, weight_decay: float = 0.0
              ) -> torch.optim.Optimizer:
    """"sgd" (with `momentum`) or "adam"."""
    params = [p for p in params if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """RepDistiller's DistillKL (used by SCRUB and PIU-FR): KL(softmax(t/T) || softmax(s/T)), summed, * T^2,
    divided by the batch size."""
    log_s = F.log_softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_s, p_t, reduction="sum") * temperature ** 2 / student_logits.shape[0]


def step(optim: torch.optim.Optimizer, loss: torch.Tensor, clip: float | None = None,
         params=None) -> None:
    optim.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(params, clip)
    optim.step()


def is_multilabel(kind: TaskKind) -> bool:
    return kind == "multilabel"
