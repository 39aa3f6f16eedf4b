"""GISA, Gradient-Informed Synaptic Adjustment: per-tensor learning rates raised where the forget set matters more
than the retain set, then Adam on L_r^2 / L_f."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import diag_importance, is_multilabel
from mu_core.task import task_loss

HPARAMS = (
    HParam("epochs", "int", 3, "Passes over the retain set; each step pairs a retain batch with the next forget "
           "batch (3 in the study).", min=1, max=20, step=1),
    HParam("lr", "float", 1e-5, "Base learning rate eta_base; tensor p gets eta_base * (1 + s_p) (1e-5 in the "
           "study).", min=1e-7, max=0.1, log=True),
    HParam("weight_decay", "float", 5e-3, "Adam weight decay (5e-3 in the study).", min=0.0, max=0.5, step=1e-3),
    HParam("clip", "float", 1.0, "Gradient-norm clip (1 in the study).", min=0.01, max=100.0, log=True),
    HParam("class_weighted", "bool", True, "Weight the cross-entropy by inverse class frequency (retain weights for "
           "L_r, forget weights for L_f), as in the study; ignored for multi-label tasks."),
    HParam("batch_size", "int", 64, "Retain images per step.", min=8, max=256, step=8),
    HParam("forget_batch_size", "int", 64, "Forget images per step (the sources use the retain batch size; smaller "
           "is cheaper).", min=4, max=256, step=4),
    RETAIN_SHARE,
    TRAIN_FROM,
)


def tensor_lrs(forget_imp: dict[str, torch.Tensor], retain_imp: dict[str, torch.Tensor],
               base_lr: float) -> dict[str, float]:
    """eta_p = base_lr * (1 + s_p), s_p = mean(max(log(I_f / (I_r + 1e-8)), 0)): never below base_lr."""
    return {name: base_lr * (1.0 + float(torch.log(forget_imp[name] / (retain_imp[name] + 1e-8))
                                         .clamp_min(0.0).mean()))
            for name in forget_imp}


def class_weights(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse class frequency (classes absent from `y` get weight 0; the scale cancels in the weighted mean)."""
    counts = torch.bincount(y, minlength=num_classes).float()
    return torch.where(counts > 0, 1.0 / counts.clamp_min(1.0), torch.zeros_like(counts))


def run(ctx: UnlearnContext, hp: dict) -> None:
    bs = hp["batch_size"]
    retain, forget = ctx.passes("retain", bs), ctx.passes("forget", bs)
    pairs = ctx.paired(retain.times(hp["epochs"]), "forget", hp["forget_batch_size"])
    ctx.begin(retain, forget, pairs)
    weighted = hp["class_weighted"] and not is_multilabel(ctx.kind)

    def loss_on(split: str):
        if not weighted:
            return lambda z, y: task_loss(z, y, ctx.kind)
        w = class_weights(ctx.data(split)[1], ctx.num_classes)
        return lambda z, y: F.cross_entropy(z, y, weight=w)

    retain_loss, forget_loss = loss_on("retain"), loss_on("forget")
    retain_imp = diag_importance(ctx.model, retain, retain_loss, ctx.tracker, "importance")
    forget_imp = diag_importance(ctx.model, forget, forget_loss, ctx.tracker, "importance")
    lrs = tensor_lrs(forget_imp, retain_imp, hp["lr"])
    params = dict(ctx.model.named_parameters())
    opt = torch.optim.Adam([{"params": [params[name]], "lr": lr} for name, lr in lrs.items()],
                           weight_decay=hp["weight_decay"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=hp["epochs"])

    def loss(batch):
        (x_r, y_r), (x_f, y_f) = batch
        l_r, l_f = retain_loss(ctx.model(x_r), y_r), forget_loss(ctx.model(x_f), y_f)
        return l_r ** 2 / l_f, {"retain": l_r.detach(), "forget": l_f.detach()}

    ctx.train(pairs, loss, opt, stage="unlearning", clip=hp["clip"], after_epoch=lambda _epoch: schedule.step())


METHOD = Method(
    name="gisa", title="GISA",
    description="Diagonal importances on retain (I_r) and forget (I_f) in train mode; each tensor's learning rate is "
                "raised to eta_base * (1 + mean clamped log(I_f / I_r)); then Adam with cosine decay per epoch "
                "minimises L_r^2 / L_f with gradient clipping. Follows the study's code, which raises these rates "
                "(its report's prose says 'dampened').",
    reference="GISA study, YuliiaSuprun/MachineUnlearning (Final Report, Eq. 11) and YuliiaSuprun/COMP540 "
              "Local_Scoring_on_MUFAC.ipynb (unlearning_adaptive_ssd, compute_param_lr_list).",
    hparams=HPARAMS, run=run)
