"""SalUn: weight saliency from the forget loss's gradient, then random-label training of the salient weights only."""
from __future__ import annotations

import torch

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import relabelled_train_set, summed_grads, task_step
from mu_core.task import task_loss
from mu_core.training import optimizer

HPARAMS = (
    HParam("saliency_fraction", "float", 0.5, "Share of all weights kept in the saliency mask: those with the "
           "largest |gradient| of the forget loss (SalUn's threshold, 0.5 by default).", min=0.01, max=1.0,
           step=0.01),
    HParam("epochs", "int", 1, "Passes over retain + relabelled forget (10 in the paper on CIFAR-10).", min=1,
           max=500, step=1),
    HParam("lr", "float", 0.01, "Learning rate (SGD about 0.01 in the paper).", min=1e-5, max=0.5, log=True),
    HParam("momentum", "float", 0.9, "SGD momentum (0.9 in the paper; no weight decay here, so weights outside "
           "the mask never move).", min=0.0, max=0.99, step=0.01),
    HParam("batch_size", "int", 64, "Images per step.", min=8, max=256, step=8),
    RETAIN_SHARE,
    TRAIN_FROM,
)


def saliency_mask(ctx: UnlearnContext, fraction: float, batch_size: int) -> dict[str, torch.Tensor]:
    """0/1 masks over all parameters: the top `fraction` of weights (globally) by |sum of the forget-loss
    gradients|, computed in eval mode on forget images with the training augmentation (SalUn's generate_mask
    reads the forget set through the training transform)."""
    ctx.model.eval()
    forget = ctx.passes("forget", batch_size, shuffle=False)
    total = summed_grads(ctx.model, forget, lambda z, y: task_loss(z, y, ctx.kind), ctx.tracker, "saliency")
    ctx.model.train()
    scores = {name: g.abs() for name, g in total.items()}
    flat = torch.cat([s.flatten() for s in scores.values()])
    keep = max(1, int(len(flat) * fraction))
    threshold = torch.kthvalue(flat.cpu(), len(flat) - keep + 1).values.to(flat.device)
    return {name: (s >= threshold).to(s.dtype) for name, s in scores.items()}


def run(ctx: UnlearnContext, hp: dict) -> None:
    bs = hp["batch_size"]
    relabelled = ctx.passes(relabelled_train_set(ctx), bs, hp["epochs"])
    ctx.begin(ctx.passes("forget", bs), relabelled)
    mask = saliency_mask(ctx, hp["saliency_fraction"], bs)
    opt = optimizer(ctx.model.parameters(), "sgd", hp["lr"], hp["momentum"])
    ctx.train(relabelled, task_step(ctx), opt, stage="unlearning", grad_mask=mask)


METHOD = Method(
    name="salun", title="SalUn",
    description="Saliency unlearning: mask the weights whose forget-loss gradient is largest (a global top "
                "fraction), then train only those with random wrong labels on the forget set mixed with the "
                "retain set. SalUn draws forget labels from all classes; here they are always wrong.",
    reference="Fan et al., 'SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image "
              "Classification and Generation' (ICLR 2024); mask from generate_mask.py, random labelling from "
              "RL.py of the official code (OPTML-Group/Unlearn-Saliency).",
    hparams=HPARAMS, run=run)
