"""Local texture statistics of an image: what tells two textures of the same mean colour apart. The
mask net of a segmentation can take them as its input instead of noise, so that it learns from the
hinted pixels which statistics belong to which layer and answers on the unhinted ones from them."""
from __future__ import annotations

import cv2
import numpy as np

SCALES = (1.0, 2.0, 4.0)  # Gaussian window sigmas in pixels at the working size


def texture_features(image: np.ndarray, scales: tuple[float, ...] = SCALES) -> np.ndarray:
    """Maps (C×H×W, float32, each standardised) summarising local texture: at each scale the
    Gaussian-windowed mean colour, standard deviation of the grey level, mean absolute horizontal,
    vertical and Laplacian responses, and the structure tensor's energy and coherence (how strongly
    the texture is oriented: blades of grass are, gravel is not)."""
    img = np.ascontiguousarray(image, np.float32)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.shape[2] == 3 else img[:, :, 0]
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    responses = [np.abs(gx), np.abs(gy), np.abs(cv2.Laplacian(grey, cv2.CV_32F))]
    maps = []
    for s in scales:
        def blur(x: np.ndarray, s: float = s) -> np.ndarray:
            return cv2.GaussianBlur(x, (0, 0), s, borderType=cv2.BORDER_REFLECT)
        mean = blur(grey)
        maps += list(blur(img).transpose(2, 0, 1)) if img.shape[2] == 3 else [mean]
        maps.append(np.sqrt(np.maximum(blur(grey * grey) - mean * mean, 0)))
        maps += [blur(r) for r in responses]
        jxx, jyy, jxy = blur(gx * gx), blur(gy * gy), blur(gx * gy)  # the structure tensor
        energy = jxx + jyy
        maps += [np.sqrt(energy), np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (energy + 1e-6)]  # and coherence
    f = np.stack(maps).reshape(len(maps), -1)
    f = (f - f.mean(axis=1, keepdims=True)) / (f.std(axis=1, keepdims=True) + 1e-6)
    return f.reshape((-1,) + grey.shape).astype(np.float32)
