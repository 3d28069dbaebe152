"""Haze physics, I = t·J + (1 − t)·A: the dark channel, the airlight estimate, the dark-channel-prior
transmission, and Koschmieder's model to add haze of a known density."""
from __future__ import annotations

import cv2
import numpy as np


def dark_channel(image: np.ndarray, patch: int = 15) -> np.ndarray:
    """He et al.'s dark channel: the minimum over colour channels and a patch×patch window.

    A minimum filter (OpenCV's erosion by a patch×patch square) over the per-pixel channel minimum; at
    the borders the window is cut to the image (erosion's default border never lowers a minimum)."""
    return cv2.erode(image.min(axis=2), np.ones((patch, patch), np.uint8))


def estimate_airlight(image: np.ndarray, patch: int = 15, fraction: float = 1e-3) -> np.ndarray:
    """He et al.'s airlight: among the pixels whose dark channel is in the brightest `fraction` (0.1%, at
    least one pixel), the colour of the brightest one (the haziest, most distant region has the brightest
    dark channel; the brightest pixel there is the least disturbed by the scene), one real colour, where
    the per-channel maximum over those pixels that Double-DIP takes mixes several pixels' colours."""
    dark = dark_channel(image, patch).ravel()
    n = max(1, int(round(fraction * dark.size)))
    idx = np.argpartition(-dark, n - 1)[:n]
    pixels = image.reshape(-1, image.shape[2])[idx]
    return pixels[np.argmax(pixels.sum(axis=1))].astype(np.float32)


def dcp_transmission(image: np.ndarray, airlight: np.ndarray, omega: float = 0.95, patch: int = 15,
                     refine: bool = True) -> np.ndarray:
    """He et al.'s transmission estimate t = 1 − ω·dark(I / A), refined by a guided filter on I
    (radius 4 patches, ε = 1e-3); `airlight` a colour or an HxWx3 map."""
    from classical.guided import guided_filter
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


def haze_omega(image: np.ndarray, airlight: np.ndarray, max_omega: float = 0.95, black_share: float = 0.005,
               steps: int = 12) -> float:
    """How much haze the dark channel prior may remove from this image: the largest omega (at most
    `max_omega`) whose dehazed image, J = (I − (1 − t)·A) / t with t = 1 − omega·dark(I / A), leaves at
    most `black_share` of the pixels darker than black in some channel.

    The prior takes the scene's own dark channel for haze: on a lightly hazy or a bright scene (whose
    dark channel is far from 0) omega = 0.95 removes more haze than there is, and the pixels it
    over-corrects go below black. Natural photos have few truly black pixels, so the omega at which
    they appear measures how much haze there is. More omega means smaller t everywhere and darker
    dark pixels, so the share only grows with omega: found by bisection."""
    a = np.asarray(airlight, np.float32)
    dark = dark_channel(image / np.maximum(a, 1e-3))

    def below_black(omega: float) -> float:
        from classical.guided import guided_filter
        t = np.clip(guided_filter(image, 1.0 - omega * dark, 4 * 15, 1e-3), 0.1, 1.0)[:, :, None]
        return float(((image - (1 - t) * a) / t).min(axis=2).__lt__(0).mean())

    if below_black(max_omega) <= black_share:
        return max_omega
    lo, hi = 0.0, max_omega
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if below_black(mid) <= black_share else (lo, mid)
    return lo


def dcp_dehaze(image: np.ndarray, patch: int = 15, omega: float = 0.95, t_min: float = 0.1,
               radius: int = 60, eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dark-channel-prior dehazing: t = 1 − ω·dark(I/A), refined by a guided filter on the grey input
    (radius 60, ε = 1e-4 as in the guided-filter paper), J = (I − A)/max(t, t_min) + A. Returns J, t, A."""
    a = estimate_airlight(image, patch)
    t = 1.0 - omega * dark_channel(image / np.maximum(a, 1e-3), patch)
    from classical.guided import guided_filter
    grey = cv2.cvtColor(np.ascontiguousarray(image, np.float32), cv2.COLOR_RGB2GRAY)
    t = guided_filter(np.repeat(grey[:, :, None], 3, axis=2), t.astype(np.float32), radius, eps)
    t = np.clip(t, t_min, 1.0)
    j = (image - a) / t[:, :, None] + a
    return np.clip(j, 0, 1).astype(np.float32), t.astype(np.float32), a


def recover(image: np.ndarray, t: np.ndarray, A: np.ndarray, rows: int = 512) -> np.ndarray:
    """J = (I − (1 − t)·A) / t (t: HxW, already clipped away from 0; A: HxWx3, may be a broadcast view),
    clipped to [0, 1], a strip of rows at a time so a huge photo needs no full-size temporaries."""
    J = np.empty(image.shape[:2] + (3,), np.float32)
    for y in range(0, image.shape[0], rows):
        sl = slice(y, y + rows)
        tt = t[sl, :, None]
        np.clip((image[sl] - (1 - tt) * A[sl]) / tt, 0, 1, out=J[sl])
    return J


def restore(image: np.ndarray, image_small: np.ndarray, t_small: np.ndarray, airlight: np.ndarray,
            radius: int, eps: float, t_min: float) -> tuple[np.ndarray, np.ndarray]:
    """The full-size (J, t) from a transmission found at a working size: t guided-filtered against the small
    image and applied to the full one (utils.guided.guided_upsample), clipped to [t_min, 1], and J
    recovered by inverting the haze model with `airlight` (a colour, or a full-size HxWx3 map)."""
    from classical.guided import guided_upsample
    t = guided_upsample(image, image_small, np.clip(t_small, 0, 1), radius, eps)
    np.clip(t, t_min, 1, out=t)
    a = np.asarray(airlight, np.float32)
    A = np.broadcast_to(a, image.shape[:2] + (3,)) if a.ndim == 1 else a
    return recover(image, t, A), t.astype(np.float32, copy=False)


def distortion(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """What a dehazed photo can be checked for without its truth, against the photo it came from: the share
    (%) of pixels newly clipped to black or white in some channel, the share newly saturated (HSV
    saturation above 0.9 where it was below 0.5: a sky turned deep blue), and the colour cast, the shift
    of the mean a*b* colour in CIELAB (about 2 is hard to see)."""
    def clipped(x: np.ndarray) -> np.ndarray:
        return ((x <= 1 / 255) | (x >= 254 / 255)).any(axis=2)

    def saturation(x: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(x, np.float32), cv2.COLOR_RGB2HSV)[:, :, 1]

    def ab(x: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(x, np.float32), cv2.COLOR_RGB2LAB)[:, :, 1:].reshape(-1, 2).mean(0)
    before, after = np.clip(before, 0, 1), np.clip(after, 0, 1)
    return {"clipped": 100.0 * float((clipped(after) & ~clipped(before)).mean()),
            "saturated": 100.0 * float(((saturation(after) > 0.9) & (saturation(before) < 0.5)).mean()),
            "cast": float(np.hypot(*(ab(after) - ab(before))))}
