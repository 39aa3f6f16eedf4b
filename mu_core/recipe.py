"""Training recipes as data: every Original and Retrained model is trained from one of these."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


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

    def with_overrides(self, epochs: int | None = None, image_size: int | None = None) -> "Recipe":
        changes = {k: v for k, v in {"epochs": epochs, "image_size": image_size}.items() if v is not None}
        for key, value in changes.items():
            if int(value) < 1:
                raise ValueError(f"--{key.replace('_', '-')} must be at least 1, got {value}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
