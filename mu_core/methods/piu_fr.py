"""PIU-FR: alternate descent and ascent on the KL between the model's outputs on forget photos and the Original's
outputs on class-matched "twin" photos, then optionally fine-tune on the retain set."""
from __future__ import annotations

import torch

from mu_core.methods.base import TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import has_batchnorm, task_distill_kl, task_step
from mu_core.training import Passes, optimizer

STAGE2_MOMENTUM = 0.9  # PIU-FR's stage 2 optimizer

HPARAMS = (
    HParam("epochs", "int", 10, "Stage 1 passes over the forget set, in a fixed order (PIU-FR: 10 on MUFAC, 1-2 "
           "on MUCAC and JAFFE).", min=1, max=50, step=1),
    HParam("lr", "float", 0.001, "Stage 1 SGD learning rate, no momentum (PIU-FR: 0.001).", min=1e-6, max=0.5,
           log=True),
    HParam("temperature", "float", 4.0, "Temperature T of the distillation KL (PIU-FR: 4).", min=0.5, max=20.0,
           step=0.5),
    HParam("batch_size", "int", 64, "Forget images per stage 1 step; the sign alternates from batch to batch and "
           "restarts with descent every epoch, so with a single batch there is no ascent (PIU-FR: 64; JAFFE 8).",
           min=1, max=256, step=1),
    HParam("recalibrate_bn", "bool", True, "After each stage 1 epoch, re-estimate the BatchNorm running statistics "
           "with one pass in train mode, without gradients, over the forget images and their twins (never test or "
           "unseen images). The published run does this through its per-epoch attack helper, whose forward passes "
           "over forget and unseen images run in train mode, so its numbers include it; off = the engine's earlier "
           "behaviour (statistics only from the training steps). No effect when the trained blocks have no "
           "BatchNorm (train_from fc).",
           source="thuanphat03/Unlearn-PIU-FR @9b23c78 PIU_FR_MUFAC: the per-epoch MIA helper after model.train()",
           earlier=False),
    HParam("stage2", "bool", False, "Run stage 2: fine-tune on the retain set (PIU-FR runs it on MUFAC only)."),
    HParam("stage2_epochs", "int", 2, "Stage 2 epochs (PIU-FR: 2).", min=1, max=10, step=1),
    HParam("stage2_lr", "float", 0.01, "Stage 2 SGD learning rate, momentum 0.9 (PIU-FR: 0.01).", min=1e-6,
           max=0.5, log=True),
    HParam("stage2_batch", "int", 64, "Retain images per stage 2 step (PIU-FR: 64).", min=8, max=512, step=8),
    TRAIN_FROM,
)


def twins(ctx: UnlearnContext) -> torch.Tensor:
    """For each forget photo, one retain photo drawn at random with the same label (the same label vector for
    multi-label), or from the whole retain set when its label has no retain photo (a forgotten person)."""
    y_f, y_r = ctx.data("forget")[1], ctx.data("retain")[1]
    same = (y_f.view(len(y_f), -1)[:, None, :] == y_r.view(len(y_r), -1)[None, :, :]).all(dim=2)
    pool = torch.where(same.any(dim=1, keepdim=True), same, torch.ones_like(same)).float().cpu()
    return torch.multinomial(pool, 1, generator=ctx.generator).flatten().to(ctx.device)


def recalibrate(ctx: UnlearnContext, images: Passes) -> None:
    """One pass over `images` in train mode without gradients: the BatchNorm running statistics move to theirs,
    nothing else changes (one tracker step per batch)."""
    ctx.model.train()

    def forward(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[None, dict]:
        with torch.no_grad():
            ctx.model(batch[0])
        return None, {}

    ctx.train(images, forward, stage="stage 1: BatchNorm recalibration")


def alternating(forget: Passes) -> Passes:
    """The forget batches with the sign of their step: descent on even batches, ascent on odd ones, restarting
    with descent every pass."""
    def one_pass():
        for k, (x, target) in enumerate(forget.batches()):
            yield x, target, 1.0 if k % 2 == 0 else -1.0
    return Passes(one_pass, forget.per_epoch, forget.epochs)


def run(ctx: UnlearnContext, hp: dict) -> None:
    (x_f, y_f), (x_r, y_r) = ctx.data("forget"), ctx.data("retain")
    bs = hp["batch_size"]
    chosen = twins(ctx)
    recalibrating = hp["recalibrate_bn"] and has_batchnorm(ctx.model)
    targets = ctx.original_outputs(x_r[chosen])
    stage1 = alternating(ctx.passes((x_f, targets), bs, hp["epochs"], shuffle=False))
    calibration = ctx.passes((torch.cat([x_f, x_r[chosen]]), torch.cat([y_f, y_r[chosen]])), bs,
                             train_augment=False, shuffle=False)
    stage2 = ctx.passes("retain", hp["stage2_batch"], hp["stage2_epochs"] if hp["stage2"] else 0)
    ctx.begin(stage1, calibration.times(hp["epochs"] if recalibrating else 0), stage2)
    opt = optimizer(ctx.model.parameters(), "sgd", hp["lr"])

    def pull_and_push(batch):
        x, target, sign = batch
        kl = task_distill_kl(ctx.model(x), target, hp["temperature"], ctx.kind)
        return sign * kl, {"kl": kl.detach(), "sign": sign}

    ctx.train(stage1, pull_and_push, opt, stage="stage 1: descent and ascent",
              after_epoch=(lambda _epoch: recalibrate(ctx, calibration)) if recalibrating else None)
    if hp["stage2"]:
        stage2_opt = optimizer(ctx.model.parameters(), "sgd", hp["stage2_lr"], STAGE2_MOMENTUM)
        ctx.train(stage2, task_step(ctx), stage2_opt, stage="stage 2: fine-tune")


METHOD = Method(
    name="piu_fr", title="PIU-FR",
    description="Alternate pulling and pushing the forget outputs to the Original's outputs on class-matched retain "
                "photos (not unseen photos: those are the attack's non-members), then optionally fine-tune. As "
                "in the published run, the BatchNorm statistics are re-estimated after every stage 1 epoch "
                "(recalibrate_bn), here on the forget photos and their twins (off: the engine's earlier "
                "behaviour).",
    reference="Le, Tran & Nguyen, \"PIU-FR: Personal Identity Unlearning for Facial Recognition\" (ACIIDS 2025), "
              "code thuanphat03/Unlearn-PIU-FR @9b23c78 (class PIU_FR). Twins come from the retain set instead of "
              "an unseen_train pool: class-matched where the class has retain photos, else drawn from all retain "
              "photos (other classes), and the twins' outputs are taken once without augmentation.",
    hparams=HPARAMS, run=run)
