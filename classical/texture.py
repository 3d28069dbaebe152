"""Local texture statistics of an image: what tells two textures of the same mean colour apart. The
mask net of a segmentation can take them as its input instead of noise, so that it learns from the
hinted pixels which statistics belong to which layer and answers on the unhinted ones from them."""
from __future__ import annotations

import cv2
import numpy as np

SCALES = (1.0, 2.0, 4.0)  # Gaussian window sigmas in pixels at the working size
GABOR_WAVELENGTHS = (4.0, 8.0, 16.0)  # Gabor filter wavelengths in pixels at the working size
GABOR_ORIENTATIONS = 4


def texture_features(image: np.ndarray, scales: tuple[float, ...] = SCALES, gabor: bool = False,
                     zoom: float = 1.0) -> np.ndarray:
    """Maps (C×H×W, float32, each standardised) summarising local appearance: the pixel's CIELAB colour,
    and at each scale the Gaussian-windowed mean colour, standard deviation of the grey level, mean absolute horizontal,
    vertical and Laplacian responses, and the structure tensor's energy and coherence (how strongly
    the texture is oriented: blades of grass are, gravel is not). With `gabor`, also the local energy of
    a Gabor filter bank (see gabor_energy). `zoom` scales every window and wavelength: the same statistics
    of the same scene at `zoom` times the size."""
    img = np.ascontiguousarray(image, np.float32)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.shape[2] == 3 else img[:, :, 0]
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    responses = [np.abs(gx), np.abs(gy), np.abs(cv2.Laplacian(grey, cv2.CV_32F))]
    # the pixel's own colour, in CIELAB (distances there follow perceived differences): real photos differ
    # from layer to layer mostly in colour, and the unblurred colour keeps the mask sharp at boundaries
    maps = list(cv2.cvtColor(img, cv2.COLOR_RGB2LAB).transpose(2, 0, 1)) if img.shape[2] == 3 else []
    for s in (x * zoom for x in scales):
        def blur(x: np.ndarray, s: float = s) -> np.ndarray:
            return cv2.GaussianBlur(x, (0, 0), s, borderType=cv2.BORDER_REFLECT)
        mean = blur(grey)
        maps += list(blur(img).transpose(2, 0, 1)) if img.shape[2] == 3 else [mean]
        maps.append(np.sqrt(np.maximum(blur(grey * grey) - mean * mean, 0)))
        maps += [blur(r) for r in responses]
        jxx, jyy, jxy = blur(gx * gx), blur(gy * gy), blur(gx * gy)  # the structure tensor
        energy = jxx + jyy
        maps += [np.sqrt(energy), np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (energy + 1e-6)]  # and coherence
    if gabor:
        maps += gabor_energy(grey, tuple(w * zoom for w in GABOR_WAVELENGTHS))
    return _standardise(maps, grey.shape)


def gabor_energy(grey: np.ndarray, wavelengths: tuple[float, ...] = GABOR_WAVELENGTHS,
                 orientations: int = GABOR_ORIENTATIONS) -> list[np.ndarray]:
    """The classic texture-segmentation features: at each wavelength and orientation the energy of a
    quadrature pair of Gabor filters (bandwidth one octave), averaged by a Gaussian of half the
    wavelength, on a log scale (texture contrast varies by orders of magnitude)."""
    maps = []
    for lam in wavelengths:
        sigma = 0.56 * lam  # one-octave bandwidth
        for k in range(orientations):
            theta = np.pi * k / orientations
            even = cv2.getGaborKernel((0, 0), sigma, theta, lam, 1.0, 0, ktype=cv2.CV_32F)
            odd = cv2.getGaborKernel((0, 0), sigma, theta, lam, 1.0, np.pi / 2, ktype=cv2.CV_32F)
            even -= even.mean()  # no response to the mean grey level
            energy = np.sqrt(cv2.filter2D(grey, -1, even, borderType=cv2.BORDER_REFLECT) ** 2
                             + cv2.filter2D(grey, -1, odd, borderType=cv2.BORDER_REFLECT) ** 2)
            energy = cv2.GaussianBlur(energy, (0, 0), lam / 2, borderType=cv2.BORDER_REFLECT)
            maps.append(np.log(energy + 1e-3))
    return maps


def _standardise(maps: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The maps as one C×H×W float32 array, each map with zero mean and unit variance."""
    f = np.stack(maps).reshape(len(maps), -1)
    f = (f - f.mean(axis=1, keepdims=True)) / (f.std(axis=1, keepdims=True) + 1e-6)
    return f.reshape((-1,) + shape).astype(np.float32)
