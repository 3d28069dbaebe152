"""Edge-aware refinement of soft masks and transmission maps with He et al.'s guided filter
(OpenCV contrib's `cv2.ximgproc.guidedFilter`)."""
from __future__ import annotations

import cv2
import numpy as np


def scaled_radius(shape: tuple[int, int], fraction: float, minimum: int = 1) -> int:
    """A filter radius that scales with the image: `fraction` of its longest side.

    A fixed radius (the original code's 50 px) erases the shape on a small image."""
    return max(minimum, int(round(fraction * max(shape[:2]))))


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float = 1e-3) -> np.ndarray:
    """Filter `src` (HxW or HxWxC float) so its edges follow those of `guide` (HxWx3 float in [0, 1]).

    OpenCV contrib's implementation; where only plain OpenCV is installed (its `cv2` shadows contrib's),
    the same filter computed here."""
    if not hasattr(cv2, "ximgproc"):
        g = np.ascontiguousarray(guide, np.float32)
        chans = src.reshape(src.shape[0], src.shape[1], -1)
        out = np.empty(chans.shape, np.float32)
        for k in range(chans.shape[2]):
            c = _coefficients(g, chans[:, :, k], radius, eps)
            out[:, :, k] = np.einsum("ijc,ijc->ij", c[:, :, :3], g) + c[:, :, 3]
        return out.reshape(src.shape)
    out = cv2.ximgproc.guidedFilter(np.ascontiguousarray(guide, dtype=np.float32),
                                    np.ascontiguousarray(src, dtype=np.float32), int(radius), float(eps))
    return out.reshape(src.shape)


def _coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """The guided filter's local linear model q = a·I + b, box-averaged: HxWx4 (a for R, G, B, then b)."""
    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)
    g = np.ascontiguousarray(guide, np.float32)
    p = np.ascontiguousarray(src, np.float32)
    mean_g, mean_p = box(g), box(p)
    cov = box(g * p[:, :, None]) - mean_g * mean_p[:, :, None]
    sigma = np.empty(g.shape[:2] + (3, 3), np.float32)
    for i in range(3):
        for j in range(i, 3):
            sigma[:, :, i, j] = sigma[:, :, j, i] = box(g[:, :, i] * g[:, :, j]) - mean_g[:, :, i] * mean_g[:, :, j]
    sigma += eps * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(sigma, cov[:, :, :, None])[:, :, :, 0]
    b = mean_p - (a * mean_g).sum(axis=2)
    return np.dstack([box(a.astype(np.float32)), box(b.astype(np.float32))])


def guided_upsample(guide: np.ndarray, guide_small: np.ndarray, src_small: np.ndarray, radius: int,
                    eps: float = 1e-3, rows: int = 512) -> np.ndarray:
    """He & Sun's fast guided filter: `src_small` (HxW or HxWxC at the size of `guide_small`, a downscaled
    `guide`) filtered with `radius` at that size, its linear coefficients then upsampled and applied to the
    full-size `guide`, a strip of `rows` at a time, so a 100-megapixel photo needs no full-size temporaries.
    At equal sizes this is the ordinary guided filter."""
    h, w = guide.shape[:2]
    hs, ws = guide_small.shape[:2]
    if (h, w) == (hs, ws):
        return guided_filter(guide, src_small, radius, eps)
    src = src_small.reshape(hs, ws, -1)
    coef = [_coefficients(guide_small, src[:, :, k], radius, eps) for k in range(src.shape[2])]
    out = np.empty((h, w, src.shape[2]), np.float32)
    map_x = (np.arange(w, dtype=np.float32) + 0.5) * (ws / w) - 0.5
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        map_y = (np.arange(y0, y1, dtype=np.float32) + 0.5) * (hs / h) - 0.5
        mx = np.ascontiguousarray(np.broadcast_to(map_x, (y1 - y0, w)))
        my = np.ascontiguousarray(np.broadcast_to(map_y[:, None], (y1 - y0, w)))
        g = guide[y0:y1]
        for k, c in enumerate(coef):
            ab = cv2.remap(c, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            out[y0:y1, :, k] = np.einsum("ijc,ijc->ij", ab[:, :, :3], g) + ab[:, :, 3]
    return out.reshape((h, w) + src_small.shape[2:])
