"""The classical tools users would pick instead of coupled DIPs: dark-channel-prior dehazing (He et al.,
CVPR 2009, with the guided-filter refinement of He et al., ECCV 2010) and OpenCV's GrabCut."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from classical.haze import dcp_dehaze  # noqa: E402,F401  (the baseline, re-exported)


def grabcut(image: np.ndarray, fg_hint: np.ndarray, bg_hint: np.ndarray, iters: int = 10,
            seed: int = 0) -> np.ndarray:
    """OpenCV GrabCut initialised from hints: hinted pixels are definite foreground/background, the rest
    probable background. Returns the foreground mask."""
    cv2.setRNGSeed(seed)
    mask = np.full(image.shape[:2], cv2.GC_PR_BGD, np.uint8)
    mask[bg_hint > 0] = cv2.GC_BGD
    mask[fg_hint > 0] = cv2.GC_FGD
    img8 = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(img8, mask, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def grabcut_layers(image: np.ndarray, hints: list[np.ndarray], iters: int = 10) -> np.ndarray:
    """GrabCut for K layers (hints from the foreground back): peel one layer at a time, each against the
    hints of all layers behind it. Returns labels K-1 (foreground) ... 0 (background)."""
    k = len(hints)
    labels = np.zeros(image.shape[:2], np.uint8)
    free = np.ones(image.shape[:2], bool)
    for i in range(k - 1):
        behind = np.clip(sum(hints[i + 1:]), 0, 1) + ~free  # decided pixels count as "not this layer"
        fg = grabcut(image, hints[i], behind, iters) & free
        labels[fg] = k - 1 - i
        free &= ~fg
    return labels
