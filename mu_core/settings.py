"""Settings read from the environment, so that demos and tests can run tiny without touching code:
MU_EPOCHS and MU_IMAGE_SIZE override the dataset's training recipe, MU_DEVICE picks the device (cpu, cuda),
MU_CHECKPOINTS and MU_RUNS say where trained weights and stored runs live, MU_PRECISION is the training precision
(fp32 [default], bf16, or auto: bf16 where the hardware runs it natively; the default stays fp32 because the bf16
baselines missed test accuracy 0.90 on two of the three reported seeds) and MU_RAY_ADDRESS names an existing Ray
cluster for the reference bank (default: a local Ray instance)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from mu_core.errors import MUError
from mu_core.experiment import Experiment, build_experiment, checkpoint_root
from mu_core.store import runs_root


DEFAULT_PRECISION = "fp32"
PRECISION_CHOICES = ("fp32", "bf16", "auto")


@dataclass(frozen=True)
class Settings:
    epochs: int | None
    image_size: int | None
    device: str | None
    checkpoints: Path
    runs: Path
    precision: str = DEFAULT_PRECISION
    ray_address: str | None = None


def _positive_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise MUError(f"${name} must be a whole number of at least 1, got {text!r}.")
    return int(text)


def _device() -> str | None:
    text = os.environ.get("MU_DEVICE", "").strip()
    if not text:
        return None
    try:
        device = torch.device(text)
    except RuntimeError:
        raise MUError(f"$MU_DEVICE must be cpu or cuda, got {text!r}.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MUError("$MU_DEVICE asks for cuda, but no CUDA device is available here.")
    return text


def precision_setting() -> str:
    """$MU_PRECISION (fp32, bf16 or auto), default fp32."""
    text = os.environ.get("MU_PRECISION", "").strip().lower() or DEFAULT_PRECISION
    if text not in PRECISION_CHOICES:
        raise MUError(f"$MU_PRECISION must be fp32, bf16 or auto, got {text[:40]!r}.")
    return text


def ray_address() -> str | None:
    """$MU_RAY_ADDRESS, or None (a local Ray instance)."""
    return os.environ.get("MU_RAY_ADDRESS", "").strip() or None


def settings() -> Settings:
    """The current settings; a bad value raises MUError naming the variable."""
    return Settings(_positive_int("MU_EPOCHS"), _positive_int("MU_IMAGE_SIZE"), _device(), checkpoint_root(),
                    runs_root(), precision_setting(), ray_address())


def experiment(dataset: str = "orl", scenario: str | None = None, forget_spec: str | None = None, seed: int = 0,
               data_dir: str | None = None) -> Experiment:
    """`build_experiment` with the environment's settings."""
    s = settings()
    return build_experiment(dataset, scenario, forget_spec, seed, s.epochs, s.image_size, data_dir, s.device,
                            precision=s.precision)
