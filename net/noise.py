"""Network inputs: fixed random codes (DIP's 'noise') and coordinate grids ('meshgrid')."""
from __future__ import annotations

import torch


def noise_input(depth: int, shape: tuple[int, int], var: float = 0.1, kind: str = "uniform",
                generator: torch.Generator | None = None) -> torch.Tensor:
    """A 1×depth×H×W code: uniform in [0, 1) scaled by `var` (DIP's default), or normal with std `var`."""
    size = (1, depth, *shape)
    if kind == "uniform":
        return torch.rand(size, generator=generator) * var
    if kind == "normal":
        return torch.randn(size, generator=generator) * var
    raise ValueError(f"unknown noise kind {kind!r}")


def meshgrid_input(shape: tuple[int, int]) -> torch.Tensor:
    """A 1×2×H×W grid of x and y coordinates in [0, 1]: a smooth input for smooth outputs (airlight)."""
    h, w = shape
    ys = torch.linspace(0, 1, h) if h > 1 else torch.zeros(1)
    xs = torch.linspace(0, 1, w) if w > 1 else torch.zeros(1)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy])[None]


def jitter(x: torch.Tensor, std: float | torch.Tensor) -> torch.Tensor:
    """Input-noise regularisation: a fresh normal perturbation of the fixed code at each iteration (a
    tensor std, e.g. a loop knob, always draws it, so the computation is the same at every iteration)."""
    if isinstance(std, torch.Tensor):
        return x + torch.randn_like(x) * std
    return x + torch.randn_like(x) * std if std > 0 else x
