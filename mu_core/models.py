"""ResNet-18 with the task's head, and checkpoints: safetensors weights + a JSON metadata file, both written
atomically. The JSON holds the SHA-256 of the weights file, so a truncated or swapped file is caught on load."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, TypeVar

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mu_core.data.transforms import to_float
from mu_core.errors import CheckpointError


def build_model(num_outputs: int) -> nn.Module:
    """torchvision ResNet-18 from scratch (no pretrained weights exist offline) with `num_outputs` logits.
    torchvision is imported here, not with this module: it loads torch._dynamo (seconds), which reading
    checkpoint metadata and the dashboard's first page do not need."""
    from torchvision.models import resnet18

    return resnet18(weights=None, num_classes=num_outputs)


def reinitialise(block: nn.Module) -> None:
    """Fresh weights for every layer of `block`, drawn as torchvision's ResNet draws them when `build_model` builds
    one (convolutions Kaiming-normal, fan-out; BatchNorm weight 1, bias 0 and its statistics reset; linear layers
    their own default), from torch's global RNG."""
    for module in block.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            module.reset_parameters()


# ResNet-18's blocks from the top (CF-k's k and `train_from` count from here; below layer1 is the stem).
TOP_DOWN_BLOCKS = ("fc", "layer4", "layer3", "layer2", "layer1")


def split_at(model: nn.Module, first: str) -> tuple[nn.Sequential, nn.Sequential]:
    """A ResNet as (lower, upper) with `upper` starting at its child `first` ("layer1".."layer4" or "fc"), so that
    upper(lower(x)) == model(x). Both share the model's modules: training `upper` trains the model."""
    children = list(model.named_children())
    names = [name for name, _ in children]
    if first not in names:
        raise ValueError(f"the model has no block {first!r}; its blocks are {', '.join(names)}")

    def sequential(part: list[tuple[str, nn.Module]]) -> nn.Sequential:
        modules: list[nn.Module] = []
        for name, module in part:
            if name == "fc":  # ResNet.forward flattens the pooled features before the head
                modules.append(nn.Flatten(1))
            modules.append(module)
        return nn.Sequential(*modules)

    cut = names.index(first)
    return sequential(children[:cut]), sequential(children[cut:])


EVAL_BATCH = 256  # images per chunk of a forward pass without gradients
Chunk = TypeVar("Chunk")


def in_chunks(fn: Callable[..., Chunk], *tensors: torch.Tensor, batch_size: int = EVAL_BATCH,
              each_chunk: Callable[[], None] | None = None) -> list[Chunk]:
    """The engine's chunked pass: `fn` on the same consecutive rows of each of `tensors`, `batch_size` at a time
    (evaluation, teachers, frozen blocks and upload matching all run through it); `each_chunk` is called after
    each chunk."""
    results = []
    for start in range(0, len(tensors[0]), batch_size):
        results.append(fn(*(t[start:start + batch_size] for t in tensors)))
        if each_chunk is not None:
            each_chunk()
    return results


def head(model: nn.Module) -> nn.Module:
    """The model's last layer, its classifier `fc` (of a ResNet, or the last module of the upper part that
    `split_at` gives)."""
    return model.fc if hasattr(model, "fc") else model[-1]


class _HeadReached(Exception):
    """Stops a forward pass at the model's head, once its input is caught (`penultimate`)."""


def _head_input(model: nn.Module, x: torch.Tensor, stop: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
    """The model's outputs (None when `stop`: the pass ends before the head runs) and the flattened input of its
    `head`, from one forward pass."""
    caught: list[torch.Tensor] = []

    def catch(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        caught.append(torch.flatten(inputs[0], 1))
        if stop:
            raise _HeadReached

    hook = head(model).register_forward_pre_hook(catch)
    try:
        outputs = model(x)
    except _HeadReached:
        outputs = None
    finally:
        hook.remove()
    return outputs, caught[0]


def outputs_and_features(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's outputs and its penultimate-layer features, the flattened input of its `head`, from one
    forward pass."""
    return _head_input(model, x, stop=False)


def penultimate(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's penultimate-layer features, read as `outputs_and_features` reads them, without running the
    head."""
    return _head_input(model, x, stop=True)[1]


@torch.no_grad()
def frozen_outputs(model: nn.Module, images: torch.Tensor, features: bool = False, batch_size: int = EVAL_BATCH,
                   each_chunk: Callable[[], None] | None = None,
                   prepare: Callable[[torch.Tensor], torch.Tensor] = to_float) -> torch.Tensor:
    """Outputs, or with `features` the penultimate-layer features (`penultimate`), of a model used as it is (a
    frozen teacher in eval mode, frozen lower blocks) on uint8 images without augmentation (or on other inputs,
    with the `prepare` they need), in chunks of `batch_size`; `each_chunk` is called after each one."""
    forward = (lambda x: penultimate(model, x)) if features else model
    return torch.cat(in_chunks(lambda chunk: forward(prepare(chunk)), images, batch_size=batch_size,
                               each_chunk=each_chunk))


def clone(model: nn.Module) -> nn.Module:
    """An independent copy (methods work on a copy; the Original is never mutated)."""
    return copy.deepcopy(model)


def weights_sha256(model: nn.Module) -> str:
    """Hash of every tensor in the state dict (names and values), independent of the file format."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder and rename it into place: readers see the old file or
    the complete new one, never a half-written one (also when interrupted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(stem: Path, model: nn.Module, meta: dict) -> None:
    """`stem`.safetensors then `stem`.json (the JSON is written last and is what makes a checkpoint valid)."""
    weights, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(weights, lambda p: save_file(state, str(p)))
    full = {**meta, "weights_file": weights.name, "file_sha256": file_sha256(weights),
            "weights_sha256": weights_sha256(model)}
    atomic_write(meta_path, lambda p: p.write_text(json.dumps(full, indent=2, sort_keys=True)))


# What a checkpoint's JSON must hold to be used; anything else is corrupt (and the model is retrained).
META_FIELDS = ("fingerprint", "seconds", "weights_file", "file_sha256", "weights_sha256")
ORPHAN_AGE_S = 15 * 60  # a temporary file untouched this long belongs to a write that was killed


def read_meta(stem: Path) -> dict | None:
    """The metadata of a complete checkpoint, or None when there is none. A file that cannot be read, is not a
    JSON object or lacks a field of META_FIELDS raises CheckpointError saying which (the caller retrains)."""
    meta_path = stem.with_suffix(".json")
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        reason = "it is not valid JSON" if isinstance(e, ValueError) else f"it cannot be read: {e.strerror or e}"
        raise CheckpointError(f"The checkpoint metadata {meta_path.name} is corrupt ({reason}).") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"The checkpoint metadata {meta_path.name} is corrupt (it holds a JSON "
                              f"{type(meta).__name__}, not an object).")
    missing = [k for k in META_FIELDS if k not in meta]
    if missing:
        raise CheckpointError(f"The checkpoint metadata {meta_path.name} is corrupt (it lacks "
                              f"{', '.join(missing)}).")
    if not isinstance(meta["seconds"], (int, float)) or isinstance(meta["seconds"], bool) \
            or not isinstance(meta["fingerprint"], dict):
        raise CheckpointError(f"The checkpoint metadata {meta_path.name} is corrupt (a field has the wrong type).")
    return meta


def remove_orphans(folder: Path, older_than_s: float = ORPHAN_AGE_S) -> list[Path]:
    """Delete the temporary files of atomic writes that were killed (`.<name>.<random>.tmp`, untouched for
    `older_than_s` seconds: a younger one may belong to a write still under way in another process)."""
    removed = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for tmp in folder.glob(".*.tmp"):
        try:
            if tmp.is_file() and now - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


def check_writable(folder: Path, what: str = "checkpoint folder") -> None:
    """Create `folder` if needed and prove a file can be written there, before minutes of training are spent;
    CheckpointError naming the folder otherwise. Also removes orphaned temporary files there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CheckpointError(f"Cannot write to the {what} {folder} ({e.strerror or type(e).__name__}): nothing "
                              "was trained. Make it writable, or point $MU_CHECKPOINTS at a folder that is.") \
            from None
    remove_orphans(folder)


def load_checkpoint(stem: Path, model: nn.Module) -> dict:
    """Load weights into `model` after checking the file hash; returns the metadata."""
    meta = read_meta(stem)
    weights = stem.with_suffix(".safetensors")
    if meta is None or not weights.is_file():
        raise CheckpointError(f"No complete checkpoint at {stem}.")
    if file_sha256(weights) != meta.get("file_sha256"):
        raise CheckpointError(f"The checkpoint {weights} is corrupt or truncated (its hash does not match its "
                              "metadata).")
    try:
        state = load_file(str(weights))
        model.load_state_dict(state)
    except (SafetensorError, RuntimeError, OSError) as e:
        raise CheckpointError(f"The checkpoint {weights} cannot be loaded into this model: {e}")
    return meta
