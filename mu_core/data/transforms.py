"""Image preprocessing (to uint8 tensors at the model's resolution) and batched augmentation on tensors."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

AUGMENTS = ("faces", "light", "benchmark", "none")


def to_square_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """Centre-crop to a square, resize to `size` (antialiased), replicate grey to 3 channels: uint8 (3, size, size)."""
    if image.ndim == 2:
        image = image[:, :, None]
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = np.array(image[top:top + side, left:left + side], copy=True)
    t = torch.from_numpy(crop).permute(2, 0, 1).float().unsqueeze(0)
    if side != size:
        t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    t = t.round().clamp(0, 255).to(torch.uint8)[0]
    return t.expand(3, -1, -1).contiguous() if t.shape[0] == 1 else t[:3]


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [0, 1] (no mean/std normalisation, as in the benchmark)."""
    return x.float().div_(255.0)


def augment(x: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """Batched random augmentation of a float batch (N, 3, H, W) in [0, 1], reproducible with `generator`.

    "faces": random resized crop (scale 0.75-1, aspect 0.9-1.1) + horizontal flip + brightness/contrast jitter 0.2.
    "light": horizontal flip + brightness/contrast jitter 0.2 (no geometric change).
    "benchmark": the MUFAC/MUCAC notebooks' flip + affine (shear 10 deg, scale 0.8-1.2) + jitter 0.2.
    """
    if kind == "none":
        return x
    if kind not in AUGMENTS:
        raise ValueError(f"unknown augmentation {kind!r}; choose one of {', '.join(AUGMENTS)}")
    n = x.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (hi - lo) + lo

    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    if kind == "faces":
        area = uniform(0.75, 1.0)
        aspect = torch.exp(uniform(math.log(0.9), math.log(1.1)))
        sx = torch.sqrt(area * aspect).clamp(max=1.0)
        sy = torch.sqrt(area / aspect).clamp(max=1.0)
        theta[:, 0, 0] = sx * flip
        theta[:, 1, 1] = sy
        theta[:, 0, 2] = (torch.rand(n, generator=generator) * 2 - 1) * (1 - sx)
        theta[:, 1, 2] = (torch.rand(n, generator=generator) * 2 - 1) * (1 - sy)
    elif kind == "light":
        theta[:, 0, 0] = flip
        theta[:, 1, 1] = 1.0
    else:
        scale = 1.0 / uniform(0.8, 1.2)
        shear = torch.tan(torch.deg2rad(uniform(-10.0, 10.0)))
        theta[:, 0, 0] = scale * flip
        theta[:, 0, 1] = scale * shear
        theta[:, 1, 1] = scale
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    padding = "border" if kind == "faces" else "zeros"
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    brightness = uniform(0.8, 1.2).to(x.device).view(n, 1, 1, 1)
    contrast = uniform(0.8, 1.2).to(x.device).view(n, 1, 1, 1)
    out = out * brightness
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    return ((out - mean) * contrast + mean).clamp_(0.0, 1.0)
