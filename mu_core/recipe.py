"""Training recipes as data: every Original and Retrained model is trained from one of these."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mu_core.errors import MUError

# The largest --image-size: the engine keeps every image of a dataset as uint8 at this size (N x 3 x S x S bytes;
# MUFAC's 10,000 photos at 512 px already take 7.9 GB) and ResNet-18's activations grow with S squared.
MAX_IMAGE_SIZE = 512
MAX_EPOCHS = 10_000
PRECISIONS = ("fp32", "bf16")


class RecipeError(MUError, ValueError):
    """A recipe override out of range (a ValueError too, for callers that caught those before)."""


@dataclass(frozen=True)
class Recipe:
    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "sgd"          # "sgd" | "adam"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"      # "onecycle" | "step" | "cosine" | "constant"
    milestones: tuple[int, ...] = ()  # epochs at which "step" multiplies the lr by `gamma`
    gamma: float = 0.1
    image_size: int = 64
    augment: str = "faces"          # see mu_core.data.transforms.AUGMENTS
    precision: str = "fp32"         # "fp32" | "bf16" (autocast while training; evaluation is always fp32)

    def with_overrides(self, epochs: int | None = None, image_size: int | None = None,
                       precision: str | None = None) -> "Recipe":
        """The recipe with the user's overrides; `precision` is "fp32" or "bf16" (resolve "auto" first, with
        `mu_core.training.resolve_precision`)."""
        if precision is not None and precision not in PRECISIONS:
            raise RecipeError(f"--precision must be fp32, bf16 or auto, got {precision!r}.")
        changes = {k: v for k, v in {"epochs": epochs, "image_size": image_size}.items() if v is not None}
        bounds = {"epochs": MAX_EPOCHS, "image_size": MAX_IMAGE_SIZE}
        for key, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= bounds[key]:
                extra = " (every image is held in memory at this size)" if key == "image_size" else ""
                raise RecipeError(f"--{key.replace('_', '-')} must be a whole number from 1 to {bounds[key]}"
                                  f"{extra}, got {value}.")
        return dataclasses.replace(self, **changes, **({"precision": precision} if precision else {}))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
