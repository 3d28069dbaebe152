"""Pictures a person would rather look at than read: training curves, overlays, side-by-side figures."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API, without pyplot: no GUI backend, no figure registry

from utils.atomic import atomic_path

# Colours of label overlays, background first
LABEL_COLOURS = np.array([[0.15, 0.35, 1.0], [0.1, 0.85, 0.2], [1.0, 0.2, 0.15], [1.0, 0.85, 0.1],
                          [0.8, 0.2, 0.9], [0.1, 0.9, 0.9]], dtype=np.float32)


MAX_FIGURE_PX = 2400  # no figure wider than this: a reader's screen


def figure_dpi(width_inches: float, dpi: float = 110) -> float:
    """`dpi`, lowered so that a figure `width_inches` wide stays within MAX_FIGURE_PX pixels."""
    return min(dpi, MAX_FIGURE_PX / width_inches)


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=figure_dpi(fig.get_size_inches()[0]), bbox_inches="tight", format="png")
    return p


def plot_curves(histories: dict[str, dict[str, list[float]]], path: str | os.PathLike) -> Path | None:
    """Loss (log scale) and reconstruction PSNR per iteration, one line per stage, stages end to end; no file
    where nothing was fitted (--dip=false: an empty plot, and a second's drawing, for nothing)."""
    if not any(len(h["loss"]) for h in histories.values()):
        return None
    fig = Figure(figsize=(11, 3.6))
    ax_loss, ax_psnr = fig.subplots(1, 2)
    offset = 0
    for name, h in histories.items():
        x = np.arange(offset, offset + len(h["loss"]))
        loss = np.asarray(h["loss"], dtype=float)
        ax_loss.plot(x, np.where(loss > 0, loss, np.nan), lw=0.8, label=name)
        ax_psnr.plot(x, h["psnr"], lw=0.8, label=name)
        offset += len(h["loss"])
    ax_loss.set_yscale("log")
    ax_loss.set_title("loss")
    ax_psnr.set_title("reconstruction PSNR (dB)")
    for ax in (ax_loss, ax_psnr):
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def _shrink(img: np.ndarray, max_side: int) -> np.ndarray:
    """A picture for looking at: at most `max_side` pixels on its longest side (nearest for labels)."""
    import cv2
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    if img.dtype.kind in "biu":  # labels and masks: nearest, as 8-bit
        return cv2.resize(img.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.45, max_side: int = 2048) -> np.ndarray:
    """Tint each label region of `image` with its colour (label 0 = background, blue); a visual aid, so
    at most `max_side` pixels on its longest side."""
    image, labels = _shrink(image, max_side), _shrink(np.asarray(labels, np.uint8), max_side)
    colours = LABEL_COLOURS[np.asarray(labels, dtype=int) % len(LABEL_COLOURS)]
    return (1 - alpha) * image + alpha * colours


def side_by_side(images: Sequence[np.ndarray], titles: Sequence[str], path: str | os.PathLike) -> Path:
    """Images with titles (grey images shown in grey), like the paper's figures: one row, or as many rows
    as keep the figure about 8 panel-heights wide (each panel at its own aspect ratio)."""
    images = [_shrink(np.asarray(img), 1024) for img in images]  # the figure shows no more
    aspects = [max(img.shape[1] / img.shape[0], 0.3) for img in images]
    rows = max(1, int(np.ceil(sum(aspects) / 8)))
    cols = int(np.ceil(len(images) / rows))
    width = 3.6 * max(sum(aspects[r * cols:(r + 1) * cols]) for r in range(rows))
    fig = Figure(figsize=(width, 3.9 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, title in zip(axes.ravel(), images, titles, strict=False):
        ax.imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
    return _save(fig, path)
