"""Haze physics, I = t·J + (1 − t)·A: the dark channel, the airlight estimate, the dark-channel-prior
transmission, and Koschmieder's model to add haze of a known density."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def dark_channel(image: np.ndarray, patch: int = 15) -> np.ndarray:
    """He et al.'s dark channel: the minimum over colour channels and a patch×patch window.

    A minimum filter over the per-pixel channel minimum; at the borders the window is cut to the
    image (edge replication cannot lower a minimum, so 'nearest' mode gives exactly that)."""
    return ndimage.minimum_filter(image.min(axis=2), size=patch, mode="nearest")


def estimate_airlight(image: np.ndarray, patch: int = 15, fraction: float = 1e-4) -> np.ndarray:
    """Airlight A as in Double-DIP (after He et al.): take the pixels whose dark-channel values are the
    brightest `fraction` (0.01%, at least one pixel) of the image, and return the per-channel maximum of
    the image over those pixels. The haziest, most distant region has the brightest dark channel."""
    dark = dark_channel(image, patch).ravel()
    n = max(1, int(round(fraction * dark.size)))
    idx = np.argpartition(-dark, n - 1)[:n]
    return image.reshape(-1, image.shape[2])[idx].max(axis=0).astype(np.float32)


def dcp_transmission(image: np.ndarray, airlight: np.ndarray, omega: float = 0.95, patch: int = 15,
                     refine: bool = True) -> np.ndarray:
    """He et al.'s transmission estimate t = 1 − ω·dark(I / A), refined by a guided filter on I
    (radius 4 patches, ε = 1e-3); `airlight` a colour or an HxWx3 map."""
    from utils.guided import guided_filter
    a = np.asarray(airlight, np.float32)
    t = 1.0 - omega * dark_channel(image / np.maximum(a, 1e-3), patch)
    if refine:
        t = guided_filter(image, t, 4 * patch, 1e-3)
    return np.clip(t, 0.0, 1.0).astype(np.float32)


def add_haze(clean: np.ndarray, depth: np.ndarray, beta: float, airlight: np.ndarray | float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Koschmieder's model: t = exp(−β·Z), I = J·t + A·(1 − t). Returns (hazy image, t)."""
    t = np.exp(-beta * depth)[:, :, None]
    a = np.broadcast_to(np.asarray(airlight, np.float32), (3,))
    return (clean * t + a * (1 - t)).astype(np.float32), t[:, :, 0].astype(np.float32)
