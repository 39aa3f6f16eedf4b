"""Bad Teacher with similarity-based sampling: the retain images distilled from the Original are the ones nearest
to the forget images, weighted by how many forget images they are near to."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mu_core.methods.bad_teacher import SHARED_HPARAMS, distil_teachers
from mu_core.methods.base import TRAIN_FROM, HParam, Method, UnlearnContext

HPARAMS = SHARED_HPARAMS + (
    HParam("neighbours", "int", 3, "Retain images taken per forget image: its nearest ones by cosine similarity "
           "of the Original's penultimate-layer features (the source gives no metric or k).", min=1, max=50,
           step=1),
    HParam("weighted", "bool", True, "Weight each chosen retain image by the number of forget images it is near "
           "to (mean weight 1); off: all weights 1."),
    HParam("alternate", "bool", True, "Alternate forget-only batches (bad teacher) and retain-only batches "
           "(Original), the source's \"smart batch construction\"; off: shuffled mixed batches as in Bad Teacher."),
    HParam("bad_teacher_epochs", "int", 0, "Epochs training the bad teacher on the retain set before unlearning "
           "(the source pre-trains it there; each epoch costs a retain pass, so 0, the random network of Bad "
           "Teacher, is the default within the time budget).", min=0, max=30, step=1),
    TRAIN_FROM,
)


def similar_retain(ctx: UnlearnContext, neighbours: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Retain positions among the `neighbours` nearest to some forget image (cosine similarity of the Original's
    features, no augmentation), and for each the number of forget images that chose it."""
    forget = F.normalize(ctx.original_outputs(ctx.data("forget")[0], features=True), dim=1)
    retain = F.normalize(ctx.original_outputs(ctx.data("retain")[0], features=True), dim=1)
    nearest = (forget @ retain.T).topk(min(neighbours, len(retain)), dim=1).indices
    counts = torch.bincount(nearest.flatten(), minlength=len(retain))
    chosen = counts.nonzero().flatten()
    return chosen, counts[chosen]


def run(ctx: UnlearnContext, hp: dict) -> None:
    chosen, counts = similar_retain(ctx, hp["neighbours"])
    weight = counts / counts.float().mean() if hp["weighted"] else torch.ones(len(chosen))
    distil_teachers(ctx, hp, chosen, weight, hp["alternate"], hp["bad_teacher_epochs"])


METHOD = Method(
    name="bad_teacher_sim", title="Bad Teacher + similarity sampling",
    description="Bad Teacher distilling the Original only on the retain images most similar to the forget set, "
                "weighted by similarity, in alternating forget and retain batches.",
    reference="Teachers with similarity-based sampling: Kaggle NeurIPS-2023 Machine Unlearning discussion 458648 "
              "(12th public place) as reported in YuliiaSuprun/MachineUnlearning (Final Report, section 6.1.1); "
              "built on Chundawat et al., \"Can Bad Teaching Induce Forgetting?\" (AAAI 2023).",
    hparams=HPARAMS, run=run)
