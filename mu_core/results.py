"""The machine-readable result of one model (design.md section 8)."""
from __future__ import annotations


def model_result(method: str, hparams: dict, seed: int, seconds: float, retrain_seconds: float,
                 metrics: dict, original: dict | None = None) -> dict:
    """`{"method", "hparams", "seed", "seconds", "time_ratio", "metrics"}`; time_ratio = seconds / Retrained's
    training seconds. `original` (Experiment.original_source()) records which Original the model came from or
    was compared with."""
    result = {"method": method, "hparams": dict(hparams), "seed": seed, "seconds": float(seconds),
              "time_ratio": float(seconds / retrain_seconds) if retrain_seconds else None, "metrics": metrics}
    if original is not None:
        result["original"] = original
    return result
