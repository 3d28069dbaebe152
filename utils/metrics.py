"""Quality measures: PSNR/SSIM against a clean image, IoU of masks and label maps."""
from __future__ import annotations

import numpy as np


def psnr(x: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of `x` (clipped to [0, 1]) against `truth`, accumulated in float64, no float64 copies."""
    err = np.clip(x, 0, 1, dtype=np.float32) - truth.astype(np.float32, copy=False)
    flat = err.ravel()
    mse = float(np.einsum("i,i->", flat, flat, dtype=np.float64)) / flat.size
    return float(10 * np.log10(1.0 / mse)) if mse > 0 else float("inf")


def ssim(x: np.ndarray, truth: np.ndarray) -> float:
    """scikit-image's SSIM of `x` (clipped to [0, 1]) against `truth` (imported here: it takes seconds)."""
    from skimage.metrics import structural_similarity
    return float(structural_similarity(truth.astype(np.float64), np.clip(x, 0, 1).astype(np.float64),
                                       data_range=1.0, channel_axis=2 if x.ndim == 3 else None))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    a, b = a.astype(bool), b.astype(bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def per_class_iou(labels: np.ndarray, truth: np.ndarray, n: int) -> list[float]:
    """IoU of each label 0..n-1 between two label maps."""
    return [iou(labels == k, truth == k) for k in range(n)]
