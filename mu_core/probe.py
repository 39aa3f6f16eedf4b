"""The "who is this?" probe: one photo shown to the Original, the unlearned model and Retrained, with what each
one predicts (the classifier's top classes and their probabilities) and which enrolled faces its features put
nearest (the same embedding and gallery as upload matching). A forgotten person should read as someone else to
the unlearned model, as to Retrained; a model whose head forgot while its features did not still puts that
person's own training photos nearest."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from mu_core.data.transforms import to_float, to_square_tensor
from mu_core.errors import MUError
from mu_core.experiment import Experiment
from mu_core.matching import MatchResult, match_people
from mu_core.task import probabilities

TOP_K = 3


@dataclass(frozen=True)
class Prediction:
    name: str           # class name (a person on the built-in faces)
    probability: float


@dataclass(frozen=True)
class Answer:
    model: str                       # "Original", the run's label, "Retrained"
    predictions: list[Prediction]    # top classes, most probable first
    nearest: MatchResult             # nearest enrolled people by this model's features


@torch.inference_mode()
def _top_classes(model: nn.Module, x: torch.Tensor, exp: Experiment, k: int) -> list[Prediction]:
    model.eval()
    p = probabilities(model(to_float(x.to(exp.device))).float(), exp.dataset.kind)[0].cpu().numpy()
    names = exp.dataset.class_names
    return [Prediction(names[int(c)], float(p[c])) for c in np.argsort(-p, kind="stable")[:k]]


def who_is_this(models: dict[str, nn.Module], image: np.ndarray, exp: Experiment, k: int = TOP_K) -> list[Answer]:
    """Each model's answer for one photo (uint8, H x W or H x W x 3, preprocessed as the dataset's photos)."""
    if exp.dataset.kind != "multiclass":
        raise MUError("The probe names people: it needs a multi-class (identity) task such as the built-in faces.")
    x = to_square_tensor(np.asarray(image, dtype=np.uint8), exp.image_size).unsqueeze(0)
    return [Answer(label, _top_classes(model, x, exp, k), match_people(model, image, exp, k))
            for label, model in models.items()]
