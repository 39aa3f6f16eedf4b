"""Relearn time (the anamnesis index): how many optimizer steps of fine-tuning on the forget set a
model needs to recognise it again, against the Retrained model's count. It costs training, so it is computed only
when asked (`--relearn`)."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn as nn

from mu_core.data.transforms import to_float
from mu_core.experiment import Experiment
from mu_core.recipe import Recipe
from mu_core.task import TaskKind, correctness, task_loss
from mu_core.training import batch_indices, make_optimizer

MAX_STEPS = 200         # the cap: a model still below the target after this many steps reports it, capped
TARGET_SHARE = 0.95     # of the Original's forget accuracy
LR_SHARE = 0.1          # the relearning lr: a tenth of the recipe's, constant
SMOOTHING = 0.01        # (steps + 0.01) / (retrained steps + 0.01), as in the anamnesis index


@dataclass(frozen=True)
class Relearn:
    steps: int
    capped: bool          # the target was not reached within `steps` (= the cap)
    target_acc: float


@torch.inference_mode()
def _forget_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, kind: TaskKind) -> float:
    model.eval()
    return float(correctness(model(to_float(x)).float(), y, kind).mean())


def relearn_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: Recipe, kind: TaskKind,
                  target_acc: float, device: torch.device, seed: int = 0, max_steps: int = MAX_STEPS) -> Relearn:
    """Optimizer steps of fine-tuning a copy of `model` (never `model` itself) on the forget images `x` (uint8) and
    labels `y` until its forget accuracy (eval mode, fp32) reaches `target_acc`: the recipe's optimizer and batch
    size at a constant lr of LR_SHARE x the recipe's, fp32, no augmentation, seeded batches; accuracy checked before
    the first step and after each step."""
    work = copy.deepcopy(model).to(device)
    x, y = x.to(device), y.to(device)
    if _forget_accuracy(work, x, y, kind) >= target_acc:
        return Relearn(0, False, target_acc)
    optimizer = make_optimizer(work.parameters(), dataclasses.replace(recipe, lr=recipe.lr * LR_SHARE))
    generator = torch.Generator().manual_seed(seed)
    steps = 0
    while steps < max_steps:
        for batch in batch_indices(len(x), recipe.batch_size, generator):
            work.train()
            loss = task_loss(work(to_float(x[batch.to(device)])), y[batch.to(device)], kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if _forget_accuracy(work, x, y, kind) >= target_acc:
                return Relearn(steps, False, target_acc)
            if steps == max_steps:
                break
    return Relearn(steps, True, target_acc)


def relearn_ratio(steps: int, retrained_steps: int) -> float:
    """(steps + 0.01) / (Retrained's steps + 0.01): below 1, the model relearns faster than one that never saw
    the forget set (it still remembers)."""
    return (steps + SMOOTHING) / (retrained_steps + SMOOTHING)


def relearn_metrics(exp: Experiment, model: nn.Module, retrained: nn.Module, original_forget_acc: float) -> dict:
    """The relearn metrics of `model` on the experiment's forget set against the Retrained model's count (both
    with the same seed and target: TARGET_SHARE x the Original's forget accuracy)."""
    x, y = exp.data("forget")
    target = TARGET_SHARE * original_forget_acc
    run = relearn_steps(model, x, y, exp.recipe, exp.dataset.kind, target, exp.device, exp.seed)
    ref = relearn_steps(retrained, x, y, exp.recipe, exp.dataset.kind, target, exp.device, exp.seed)
    return {"relearn_steps": run.steps, "relearn_capped": run.capped, "relearn_retrained_steps": ref.steps,
            "relearn_retrained_capped": ref.capped, "relearn_ratio": relearn_ratio(run.steps, ref.steps)}
