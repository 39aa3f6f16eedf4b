"""Import of published `.pth` checkpoints (the benchmark's released Original models) as the Original model.

Only `torch.load(weights_only=True)` is used: nothing is ever unpickled, so a file that stores Python objects
(a whole model saved with `torch.save(model)`) is refused with an explanation. The state dict is mapped onto the
engine's torchvision ResNet-18 (a `module.` prefix from DataParallel is removed; the MUCAC multi-label
`MultiLabelHead` keys `fc.fc.*` become `fc.*`) and every tensor's shape is checked against the dataset's head.
"""
from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from mu_core.data import Dataset
from mu_core.errors import CheckpointError
from mu_core.models import build_model, file_sha256

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")  # common {"state_dict": {...}} wrappers


@dataclass(frozen=True)
class ImportedCheckpoint:
    """A published checkpoint checked against a dataset: its source file, the file's SHA-256 and the state dict
    under the engine's key names."""

    path: Path
    sha256: str
    state: dict[str, torch.Tensor]

    def describe(self) -> dict:
        return {"imported_from": str(self.path), "source_sha256": self.sha256}

    def load_into(self, model: nn.Module) -> nn.Module:
        model.load_state_dict(self.state)
        return model


MAX_BYTES = 1 << 30  # a ResNet-18 state dict is about 45 MB (float32); anything above 1 GiB is not one


def _read(path: Path) -> object:
    if "\0" in str(path):
        raise CheckpointError("The checkpoint path contains a NUL byte, which no file name can hold.")
    if not path.is_file():
        raise CheckpointError(f"The checkpoint {path} does not exist or is not a file.")
    size = path.stat().st_size  # checked before a byte is read
    if size == 0:
        raise CheckpointError(f"{path.name} is empty (0 bytes): expected a PyTorch state dict of a ResNet-18 "
                              "(about 45 MB).")
    if size > MAX_BYTES:
        raise CheckpointError(f"{path.name} is {size / (1 << 30):.1f} GiB: a ResNet-18 state dict is about 45 MB, "
                              f"and files over {MAX_BYTES >> 30} GiB are refused without being read.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", str(e))
        if found is None:
            raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint (safe loading failed).") from None
        raise CheckpointError(
            f"{path.name} stores Python objects besides tensors (it refers to {found.group(1)}), which safe loading "
            "(weights_only=True) refuses; nothing was unpickled. Where you trust the file, re-save only its weights: "
            "torch.save(model.state_dict(), 'weights.pth').") from None
    except Exception as e:  # safe loading of a damaged file fails in many ways (IndexError, EOFError, ...)
        raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint ({_reason(e)}); expected a file "
                              "written by torch.save(model.state_dict(), ...).") from None


def _reason(e: BaseException) -> str:
    """The first sentence of a loading error, without torch's advice to load unsafely (never taken here)."""
    text = str(e).strip().split("\n")[0].split(". ")[0].strip().rstrip(".")
    if not text or "weights_only" in text or len(text) > 160:
        return type(e).__name__
    return text


def _state_dict(obj: object, name: str) -> dict[str, torch.Tensor]:
    """The tensors of a state dict, unwrapped from {"state_dict": ...}-style containers."""
    while isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{name} does not hold a state dict (a mapping of parameter names to tensors).")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if len(tensors) != len(obj):
        raise CheckpointError(f"{name} mixes tensors with other values; expected a plain state dict.")
    return tensors


def _engine_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("fc.fc."):
            key = "fc." + key[len("fc.fc."):]
        renamed[key] = value
    return renamed


def _head_outputs(ds: Dataset) -> str:
    what = {"multilabel": "attributes", "binary": "classes of the binary task"}.get(ds.kind, "classes")
    return f"{ds.num_classes} outputs ({what}: {', '.join(ds.class_names[:8])}{', ...' if ds.num_classes > 8 else ''})"


def import_checkpoint(path: str | Path, ds: Dataset) -> ImportedCheckpoint:
    """Read a published ResNet-18 `.pth` for `ds`; raises CheckpointError saying what does not fit."""
    path = Path(path).expanduser()
    state = _engine_keys(_state_dict(_read(path), path.name))
    expected = build_model(ds.num_classes).state_dict()
    head = state.get("fc.weight")
    if head is not None and head.ndim == 2 and head.shape[0] != ds.num_classes:
        raise CheckpointError(f"The head of {path.name} has {head.shape[0]} outputs, but {ds.title} needs "
                              f"{_head_outputs(ds)}: this checkpoint was trained for another task.")
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}" if missing else "",
                 f"unexpected {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}" if unexpected else ""]
        found = "; ".join(p for p in parts if p)
        raise CheckpointError(f"{path.name} is not a torchvision ResNet-18 state dict ({found}).")
    wrong = [f"{k} {tuple(state[k].shape)} instead of {tuple(v.shape)}" for k, v in expected.items()
             if state[k].shape != v.shape]
    if wrong:
        raise CheckpointError(f"{path.name} does not fit a ResNet-18 with {_head_outputs(ds)}: {'; '.join(wrong[:3])}.")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path.name} holds non-finite values (NaN or inf) in {', '.join(bad[:3])}.")
    state = {k: v.to(expected[k].dtype) for k, v in state.items()}
    return ImportedCheckpoint(path.resolve(), file_sha256(path), state)
