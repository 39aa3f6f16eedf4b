"""CF-k: fine-tune only the top k blocks of the network on the retain set; everything below stays frozen."""
from __future__ import annotations

import dataclasses

from mu_core.methods import finetune
from mu_core.methods.base import HParam, Method, UnlearnContext
from mu_core.models import TOP_DOWN_BLOCKS, reinitialise

AUGMENT_OFF = (" Off (with frozen BatchNorm statistics) the frozen blocks give each image the same output every "
               "epoch, so they run once per image and an epoch only runs the top k blocks (with k=1 about 5 ms per "
               "epoch on the built-in faces' retain set, after one 2-3 s pass of the frozen blocks).")

HPARAMS = (
    HParam("k", "int", 3, "Blocks trained, counted from the top: fc, layer4, layer3, layer2, layer1 (the benchmark's "
           "CF-3 trains layer3 + layer4 + fc).", min=1, max=len(TOP_DOWN_BLOCKS), step=1),
    HParam("reinit", "bool", False, "Re-initialise the top k blocks before training them on the retain set: EU-k, "
           "the exact unlearning of the last k layers in Goel et al. (those blocks never see the forget set again; "
           "the ones below keep what the Original learnt). Off: CF-k, fine-tuning them from the Original's "
           "weights, as the benchmark does."),
    HParam("freeze_bn_stats", "bool", True, "Keep the BatchNorm running statistics of the frozen blocks fixed, so "
           "they are truly untouched (the benchmark's code leaves them in train mode, where they drift)."),
) + tuple(
    dataclasses.replace(h, max=500) if h.name == "epochs"
    else dataclasses.replace(h, help=h.help + AUGMENT_OFF) if h.name == "augment"
    else h
    for h in finetune.HPARAMS)


def run(ctx: UnlearnContext, hp: dict) -> None:
    top = [getattr(ctx.model, name) for name in TOP_DOWN_BLOCKS[:hp["k"]]]
    if hp["reinit"]:
        for block in top:
            reinitialise(block)
    if frozen_outputs_are_fixed(hp):
        with ctx.frozen_below(TOP_DOWN_BLOCKS[hp["k"] - 1]):
            finetune.run(ctx, hp)
        return
    ctx.model.requires_grad_(False)
    if hp["freeze_bn_stats"]:
        ctx.model.eval()
    for block in top:
        block.requires_grad_(True).train()
    try:
        finetune.run(ctx, hp)
    finally:
        ctx.model.requires_grad_(True).train()


def frozen_outputs_are_fixed(hp: dict) -> bool:
    """Whether the frozen blocks map each retain image to the same output in every epoch (eval-mode BatchNorm,
    no augmentation), so that computing it once is the same as computing it every epoch."""
    return hp["freeze_bn_stats"] and not hp["augment"]


METHOD = Method(
    name="cf_k", title="CF-k",
    description="Fine-tune only the top k blocks on the retain set (catastrophic forgetting of the last k layers); "
                "the lower blocks, their weights and (by default) their BatchNorm statistics stay untouched.",
    reference="Goel et al., 'Towards Adversarial Evaluation of Machine Unlearning' (CF-k, and EU-k with reinit); "
              "the loop and k=3, SGD 0.001, 2 epochs follow the MUFAC/MUCAC benchmark (Choi & Na, arXiv:2311.02240), "
              "CF-3 notebooks.",
    hparams=HPARAMS, run=run)
