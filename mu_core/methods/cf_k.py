"""CF-k: fine-tune only the top k blocks of the network on the retain set; everything below stays frozen."""
from __future__ import annotations

from mu_core.methods import finetune
from mu_core.methods.base import HParam, Method, UnlearnContext

# ResNet-18 blocks from the top; k counts from here (k=3 trains layer3, layer4 and fc, as in the benchmark's CF-3).
BLOCKS = ("fc", "layer4", "layer3", "layer2", "layer1")

HPARAMS = (
    HParam("k", "int", 3, "Blocks trained, counted from the top: fc, layer4, layer3, layer2, layer1 (the benchmark's "
           "CF-3 trains layer3 + layer4 + fc).", min=1, max=len(BLOCKS), step=1),
    HParam("freeze_bn_stats", "bool", True, "Keep the BatchNorm running statistics of the frozen blocks fixed, so "
           "they are truly untouched (the benchmark's code leaves them in train mode, where they drift)."),
) + finetune.HPARAMS


def run(ctx: UnlearnContext, hp: dict) -> None:
    top = [getattr(ctx.model, name) for name in BLOCKS[:hp["k"]]]
    ctx.model.requires_grad_(False)
    if hp["freeze_bn_stats"]:
        ctx.model.eval()
    for block in top:
        block.requires_grad_(True).train()
    try:
        finetune.run(ctx, hp)
    finally:
        ctx.model.requires_grad_(True).train()


PRESETS = {
    "orl/person": {"k": 1, "lr": 0.05, "momentum": 0.9},
    "orl/photos": {"k": 1, "lr": 0.01, "momentum": 0.9},
}

METHOD = Method(
    name="cf_k", title="CF-k",
    description="Fine-tune only the top k blocks on the retain set (catastrophic forgetting of the last k layers); "
                "the lower blocks, their weights and (by default) their BatchNorm statistics stay untouched.",
    reference="Goel et al., 'Towards Adversarial Evaluation of Machine Unlearning' (CF-k); the loop and k=3, SGD "
              "0.001, 2 epochs follow the MUFAC/MUCAC benchmark (Choi & Na, arXiv:2311.02240), CF-3 notebooks.",
    hparams=HPARAMS, run=run, presets=PRESETS)
