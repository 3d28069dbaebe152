"""Colour models of image regions: GrabCut's Gaussian mixtures (Rother et al. 2004), learned as GrabCut
learns them (k-means clusters of the region's colours, one Gaussian per cluster), as the log-likelihood of
every pixel's colour under the model of a region (e.g. a layer's hint)."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def colour_loglik(image: np.ndarray, region: np.ndarray, components: int = 5, samples: int = 20000,
                  seed: int = 0) -> np.ndarray:
    """Log-likelihood (HxW) of each pixel's RGB under a `components`-Gaussian mixture (full covariances)
    of the colours in `region` (at most `samples` of them, drawn with `seed`: the fit repeats
    exactly); zeros for an empty region."""
    colours = image.reshape(-1, 3).astype(np.float64)
    idx = np.flatnonzero(region.ravel())
    if len(idx) < 2:  # nothing to learn from: every colour equally likely
        return np.zeros(image.shape[:2], np.float32)
    idx = np.random.default_rng(seed).choice(idx, min(samples, len(idx)), replace=False)
    k = max(1, min(components, len(idx) // 10))
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 10, 1e-4)
    x = colours[idx].astype(np.float32)
    _, assigned, _ = cv2.kmeans(x, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    clusters = [x[assigned.ravel() == j].astype(np.float64) for j in range(k)]
    clusters = [c for c in clusters if len(c) > 1]
    if not clusters:  # no cluster of two colours: nothing to learn from
        return np.zeros(image.shape[:2], np.float32)
    weights = [len(c) / len(x) for c in clusters]
    means = [c.mean(axis=0) for c in clusters]
    covs = [np.cov(c, rowvar=False) + 1e-6 * np.eye(3) for c in clusters]  # (a flat region's is singular)
    floor = np.log(1e-300)  # a colour no cluster explains: a large cost, not an infinite one
    return np.maximum(mixture_loglik(colours, weights, means, covs), floor).reshape(image.shape[:2]).astype(np.float32)


def mixture_loglik(colours: np.ndarray, weights: Sequence[float], means: Sequence[np.ndarray],
                   covs: Sequence[np.ndarray]) -> np.ndarray:
    """Log-density of each of `colours` (Nx3) under a Gaussian mixture (weights, means, full covariances;
    components of weight 0 left out), by scipy, summed in the log domain; minus infinity everywhere for a
    mixture with no component (e.g. a GrabCut model learned from no pixel). The sum is the usual shifted
    one, written out: scipy's logsumexp takes six times as long on a photo's pixels (its array-API checks)."""
    from scipy.stats import multivariate_normal
    logs = [np.log(w) + multivariate_normal(mean, cov, allow_singular=True).logpdf(colours)
            for w, mean, cov in zip(weights, means, covs, strict=True) if w > 0]
    if not logs:
        return np.full(len(colours), -np.inf)
    logs = np.stack(logs)
    top = logs.max(axis=0)
    top[~np.isfinite(top)] = 0.0  # a colour no component explains stays at minus infinity
    with np.errstate(divide="ignore"):
        return top + np.log(np.exp(logs - top).sum(axis=0))
