"""Where a watermark is inside its hint. A user's hint is a box around the mark, but a text or logo covers
a fraction of its box, and the fewer pixels the DIPs must explain as mark, the less of the photo they must
guess: around thin strokes the clean net has the photo itself to go by. So the box is narrowed to the
mark's own pixels first: the photo under the box is guessed by inpainting it from outside (OpenCV's Telea
method), the mark's colour W is the one that best explains what the inpainting misses, and a pixel's
opacity is that excess projected on W − background, I − B = α·(W − B). Several images with the same mark
average their opacities, so the photos' own detail cancels and the mark stays."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from utils.image_io import to_uint8

COLOUR_STEPS = 6  # candidate mark colours: a COLOUR_STEPS³ grid of the RGB cube
INPAINT_RADIUS = 5  # pixels: the Telea inpainting's neighbourhood
MIN_FRACTION = 0.01  # a support smaller than this share of the hint is not believed: the whole hint is kept


def inpaint_hint(image: np.ndarray, hint: np.ndarray) -> np.ndarray:
    """The photo under the hint (HxW, 1 = hinted) guessed from its surroundings: OpenCV's Telea inpainting."""
    out = cv2.inpaint(to_uint8(image), (hint > 0.5).astype(np.uint8) * 255, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return out.astype(np.float32) / 255.0


def _opacity(excess: np.ndarray, background: np.ndarray, colour: np.ndarray) -> np.ndarray:
    d = colour - background
    return (excess * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-2)


def mark_colour(excess: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The colour W (3,) that explains most of the excess I − B (N×3, over the hint's pixels of every image)
    as a blend towards it: the largest Σ max(0, (I − B)·(W − B))² / |W − B|² over a grid of the RGB cube."""
    grid = np.array(list(itertools.product(np.linspace(0, 1, COLOUR_STEPS), repeat=3)), np.float32)
    explained = []
    for w in grid:
        d = w - background
        p = np.maximum((excess * d).sum(-1), 0)
        explained.append(float((p * p / np.maximum((d * d).sum(-1), 1e-2)).sum()))
    return grid[int(np.argmax(explained))]


def mark_support(images: list[np.ndarray], hint: np.ndarray, grow: int = 1) -> np.ndarray:
    """The pixels of the hint (HxW in {0, 1}) that the mark covers, grown by `grow` pixels for its
    anti-aliased rims: where the mean opacity over the images exceeds an Otsu threshold. The hint itself
    when it covers most of the image (nothing around it to inpaint from) or when too little is found."""
    inside = hint > 0.5
    if inside.mean() > 0.5:
        return inside.astype(np.float32)
    backgrounds = [inpaint_hint(i, hint) for i in images]
    excess = np.concatenate([(i - b)[inside] for i, b in zip(images, backgrounds, strict=True)])
    colour = mark_colour(excess, np.concatenate([b[inside] for b in backgrounds]))
    alpha = np.mean([_opacity(i - b, b, colour) for i, b in zip(images, backgrounds, strict=True)], axis=0)
    found = (alpha > threshold_otsu(alpha[inside])) & inside
    if found.sum() < MIN_FRACTION * inside.sum():
        return inside.astype(np.float32)
    size = 2 * grow + 1
    return (cv2.dilate(found.astype(np.uint8), np.ones((size, size), np.uint8)) & inside).astype(np.float32)
