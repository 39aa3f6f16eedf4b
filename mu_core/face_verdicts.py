"""Per-face relative verdicts from stored per-sample outputs: a run keeps each photo's loss, not its logits, and for
a single-label head the official signal (logit-scaled confidence log p_y - log(1 - p_y)) follows from the loss
(p_y = exp(-loss)). Each forgotten photo is then inside the Retrained range, remembered or over-forgotten
(mu_core.evidence.face_positions)."""
from __future__ import annotations

import numpy as np

from mu_core import evidence as E

def signal_from_loss(loss: np.ndarray) -> np.ndarray:
    """log p_y - log(1 - p_y) from the cross-entropy loss -log p_y (float64; as logit_scaled_confidence, 1e-45
    keeps both logarithms finite)."""
    loss = np.asarray(loss, dtype=np.float64)
    return -loss - np.log(-np.expm1(-loss) + 1e-45)


def face_verdicts(unlearned_loss: np.ndarray, retrained_loss: np.ndarray, original_loss: np.ndarray) -> list[str]:
    """The position of each forgotten photo of one unlearned model against one Retrained model (the band is half
    the Original-Retrained distance around Retrained: "inside" means closer to Retrained than to the Original)."""
    return E.face_positions(signal_from_loss(unlearned_loss), signal_from_loss(retrained_loss),
                            signal_from_loss(original_loss))
