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
    """Filter `src` (HxW or HxWxC float) so its edges follow those of `guide` (HxWx3 float in [0, 1])."""
    out = cv2.ximgproc.guidedFilter(np.ascontiguousarray(guide, dtype=np.float32),
                                    np.ascontiguousarray(src, dtype=np.float32), int(radius), float(eps))
    return out.reshape(src.shape)
