"""A stored run's unlearned model: its weights are kept as a safetensors artifact (model.safetensors) when the run
finishes, so the model can be shown new photos later (the "who is this?" probe) without running the method
again."""
from __future__ import annotations

import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from mu_core.errors import MUError
from mu_core.experiment import Experiment
from mu_core.models import build_model
from mu_core.store import RunStore


def weights_bytes(model: nn.Module) -> bytes:
    """The model's state dict as safetensors bytes (on the CPU)."""
    return save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def load_run_model(store: RunStore, run_id: str, exp: Experiment) -> nn.Module:
    """The unlearned model of finished run `run_id` on `exp`'s device, in eval mode. MUError when the run kept no
    weights (stored before weights were kept) or they do not fit this experiment's model."""
    path = store.weights_file(run_id)
    if path is None:
        raise MUError(f"Run {run_id} kept no weights (it was stored before runs kept them): launch the method "
                      "again to probe its model.")
    model = build_model(exp.dataset.num_classes)
    try:
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, RuntimeError, OSError) as e:
        raise MUError(f"The weights of run {run_id} cannot be loaded into this experiment's model ({e}).") from None
    return model.to(exp.device).eval()
