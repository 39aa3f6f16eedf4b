"""The machine-readable result of one model (design.md section 8)."""
from __future__ import annotations


def model_result(method: str, hparams: dict, seed: int, seconds: float, retrain_seconds: float,
                 metrics: dict) -> dict:
    """`{"method", "hparams", "seed", "seconds", "time_ratio", "metrics"}`; time_ratio = seconds / Retrained's
    training seconds."""
    return {"method": method, "hparams": dict(hparams), "seed": seed, "seconds": float(seconds),
            "time_ratio": float(seconds / retrain_seconds) if retrain_seconds else None, "metrics": metrics}
