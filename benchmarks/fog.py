"""What a dehazed photo can be judged by beside PSNR/SSIM, with or without its truth: the fog it leaves (FADE),
the noise the inversion amplifies, the pixels it clips and the colour cast it adds. Benchmark measures only:
nothing in the scripts reads them (FADE judges, it never steers).

FADE: Choi, You and Bovik, "Referenceless prediction of perceptual fog density and perceptual image
defogging", IEEE TIP 2015, as PyPI's fade-python (MATLAB-aligned, its own model; requirements-bench.txt).
Lower is less fog. The noise is scikit-image's wavelet estimate of the Gaussian noise sigma (Donoho's
median rule on the finest diagonal band; needs PyWavelets)."""
from __future__ import annotations

import cv2
import numpy as np

GROUPS = (("dense", 0.0, 13.0), ("medium", 13.0, 18.0), ("light", 18.0, np.inf))  # by the hazy input's PSNR (dB)


def haze_group(hazy_psnr: float) -> str:
    """dense below 13 dB, light above 18 dB, medium between (the hazy photo's PSNR against its truth)."""
    return next(name for name, lo, hi in GROUPS if lo <= hazy_psnr < hi)


def missing() -> str:
    """'' when the measures can run, else the one line that says what to install."""
    try:
        import pyfade  # noqa: F401
        import pywt  # noqa: F401
    except ImportError as e:
        return f"{e.name} is missing: pip install -r requirements-bench.txt (fade-python, PyWavelets)"
    return ""


def to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def fade(image: np.ndarray) -> float:
    """FADE's fog density of an RGB image in [0, 1] (8-bit, as the metric is defined): lower, less fog."""
    import pyfade
    return float(pyfade.fade(to_uint8(image)))


def noise(image: np.ndarray) -> float:
    """The Gaussian noise sigma scikit-image estimates (mean over the colour channels), in [0, 1] units."""
    from skimage.restoration import estimate_sigma
    return float(estimate_sigma(np.clip(image, 0, 1), channel_axis=-1, average_sigmas=True))


def clipped(image: np.ndarray) -> float:
    """% of pixels with a channel at 0 or 255 (in 8 bits)."""
    u = to_uint8(image)
    return 100.0 * float(((u == 0) | (u == 255)).any(axis=2).mean())


def cast(before: np.ndarray, after: np.ndarray) -> float:
    """The colour cast `after` adds to `before`: |change of mean a*| + |change of mean b*| in CIELAB (a shift of
    the whole photo's colour; about 2 is hard to see)."""
    def ab(x: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(np.ascontiguousarray(np.clip(x, 0, 1), np.float32), cv2.COLOR_RGB2LAB)
        return lab[:, :, 1:].reshape(-1, 2).mean(0)
    return float(np.abs(ab(after) - ab(before)).sum())


def fog_ratio(ours: float, clean: float) -> float:
    """|ln(FADE ours / FADE clean)|: 0 when the fog left is the truth's, 0.69 at twice or half of it."""
    return float(abs(np.log(max(ours, 1e-6) / max(clean, 1e-6))))
