"""Hints: where each layer is known to be. Double-DIP segmentation needs a few pixels of each layer;
they come from the paper's histogram rule, from OpenCV's saliency, or from the user's own masks.

Layers are named from foreground to background: "fg", "mg" (middle-ground), "bg"."""
from __future__ import annotations

import cv2
import numpy as np

from utils.errors import UserError
from utils.image_io import load_mask, to_uint8

# The paper's histogram rule, on the histogram-equalised grey image (0..255)
HIST_FG_ABOVE = 239.5  # foreground: equalised value > 239.5 (the brightest ~6%)
HIST_BG_AT_MOST = 15.5  # background: equalised value <= 15.5 (the darkest ~6%)
HIST_MG_AT_MOST = 80.0  # middle-ground: 15.5 < value <= 80

# Saliency quantiles: fg = the most salient pixels, bg = the least, mg = a band in between
SAL_FG_QUANTILE = 0.95  # fg: saliency >= its 95th percentile
SAL_BG_QUANTILE = 0.30  # bg: saliency <= its 30th percentile
SAL_MG_BAND = (0.60, 0.75)  # mg: between the 60th and 75th percentiles


def equalised_grey(image: np.ndarray) -> np.ndarray:
    return cv2.equalizeHist(cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2GRAY)).astype(np.float32)


def layer_names(n: int) -> list[str]:
    """Layer names from foreground to background: fg, mg (or mg1, mg2, ...), bg."""
    if n == 2:
        return ["fg", "bg"]
    if n == 3:
        return ["fg", "mg", "bg"]
    return ["fg"] + [f"mg{k}" for k in range(1, n - 1)] + ["bg"]


def banded_hints(values: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """n > 3 layers: split a [0, 1] map into n equal bands, the highest the foreground, and hint the
    middle half of each band (the quarters next to a neighbouring band stay unknown)."""
    hints = {}
    for k, name in enumerate(layer_names(n)):
        lo, hi = (n - 1 - k) / n, (n - k) / n
        q = (hi - lo) / 4
        hints[name] = ((values >= lo + q) & (values <= hi - q)).astype(np.float32)
    return hints


def histogram_hints(image: np.ndarray, layers: int = 2) -> dict[str, np.ndarray]:
    """The paper's hints: grey → histogram equalisation → fixed thresholds (equal bands for 4+ layers)."""
    g = equalised_grey(image)
    if layers > 3:
        return banded_hints(g / 255.0, layers)
    hints = {"fg": g > HIST_FG_ABOVE, "bg": g <= HIST_BG_AT_MOST}
    if layers >= 3:
        hints["mg"] = (g > HIST_BG_AT_MOST) & (g <= HIST_MG_AT_MOST)
    return {k: v.astype(np.float32) for k, v in hints.items()}


def saliency_map(image: np.ndarray, method: str = "spectral") -> np.ndarray:
    """OpenCV's static saliency (spectral residual or fine-grained), smoothed, in [0, 1]. The smoothing is Hou and
    Zhang's (CVPR 2007): a Gaussian of sigma 8 at their 64-pixel size, an eighth of the longest side. Less (it
    was 1%) leaves the edges of an object salient and its inside as low as the background."""
    algo = {"spectral": cv2.saliency.StaticSaliencySpectralResidual_create,
            "fine": cv2.saliency.StaticSaliencyFineGrained_create}[method]()
    ok, sal = algo.computeSaliency(cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise UserError("OpenCV saliency failed on this image; use --hints=histogram or your own masks")
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), max(1.0, max(image.shape[:2]) / 8))
    return (sal - sal.min()) / max(float(sal.max() - sal.min()), 1e-8)


def saliency_hints(image: np.ndarray, layers: int = 2, method: str = "spectral") -> dict[str, np.ndarray]:
    """fg/bg (and mg) from high/low quantiles (and a middle band) of the saliency map; for 4+ layers,
    equal bands of its rank (quantile) map."""
    s = saliency_map(image, method)
    if layers > 3:
        ranks = np.argsort(np.argsort(s.ravel())).reshape(s.shape) / max(s.size - 1, 1)
        return banded_hints(ranks, layers)
    q = lambda f: np.quantile(s, f)  # noqa: E731
    hints = {"fg": s >= q(SAL_FG_QUANTILE), "bg": s <= q(SAL_BG_QUANTILE)}
    if layers >= 3:
        hints["mg"] = (s >= q(SAL_MG_BAND[0])) & (s <= q(SAL_MG_BAND[1]))
    return {k: v.astype(np.float32) for k, v in hints.items()}


def guesses_only(fixed: list[np.ndarray]) -> bool:
    """Whether the hints whose sure part is `fixed` (full size) are all automatic (histogram, saliency): no
    pixel fixed. Such hints are guesses that mix objects of one grey level, so the nets and the cut may not
    learn from them as they do from the user's."""
    return not any(np.any(f) for f in fixed)


def validate_hints(hints: dict[str, np.ndarray]) -> None:
    """Every hint non-empty, no two overlapping: otherwise one clear error."""
    for name, m in hints.items():
        if not m.any():
            raise UserError(f"the {name} hint is empty: mark some {name} pixels (white) in the mask, "
                            "or choose another --hints method")
    names = list(hints)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = int(np.logical_and(hints[a] > 0, hints[b] > 0).sum())
            if both:
                raise UserError(f"the {a} and {b} hints overlap on {both} pixels: a pixel can hint one "
                                "layer only; fix the masks")


def make_hints(image: np.ndarray, method: str, layers: int = 2, user: dict[str, str] | None = None
               ) -> dict[str, np.ndarray]:
    """Hints for `layers` layers (2: fg, bg; 3: fg, mg, bg; more: fg, mg1, ..., bg). User mask paths in
    `user` replace the automatic ones layer by layer; the result is validated."""
    if method == "histogram":
        hints = histogram_hints(image, layers)
    elif method in ("saliency", "saliency_fine"):
        hints = saliency_hints(image, layers, "fine" if method == "saliency_fine" else "spectral")
    else:
        raise UserError(f"unknown --hints={method}: use histogram, saliency or saliency_fine")
    given = {name: load_mask(path, image.shape[:2], f"{name} hint mask")
             for name, path in (user or {}).items() if path}
    validate_hints({k: v for k, v in given.items()})
    claimed = np.zeros(image.shape[:2], bool)
    for m in given.values():
        claimed |= m > 0
    for name in hints:  # the user's masks win: automatic hints give up the pixels they claim
        hints[name] = given[name] if name in given else hints[name] * ~claimed
    validate_hints(hints)
    return hints


def parse_box(text: str, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """`x0,y0,x1,y1` in pixels (x1, y1 excluded), or as fractions of the width and height when all four are
    at most 1, as pixel bounds inside an image of `shape` (H, W). A box outside the image, of zero area
    or not four numbers is one clear error."""
    h, w = shape
    try:
        x0, y0, x1, y1 = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise UserError(f"--box={text}: give four numbers x0,y0,x1,y1 (pixels, or fractions of the size when "
                        "all are at most 1)") from None
    if max(x0, y0, x1, y1) <= 1 and min(x0, y0, x1, y1) >= 0:
        x0, x1, y0, y1 = x0 * w, x1 * w, y0 * h, y1 * h
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    box = (max(0, round(x0)), max(0, round(y0)), min(w, round(x1)), min(h, round(y1)))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise UserError(f"--box={text} holds no pixel of the {w}x{h} image (outside it, or of zero area): give "
                        "x0,y0,x1,y1 with x0 < x1 <= width and y0 < y1 <= height")
    return box


BOX_FRAME = 0.02  # a box that leaves no background: the image's outer 2% teach the background layer


def box_hints(shape: tuple[int, int], box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a box says, as GrabCut reads it: outside it is surely background (fixed); inside it is where the
    foreground is, with background among it (the foreground layer learns from the whole inside, no pixel of
    it is fixed). Returns (foreground to learn from, background to learn from, background fixed). A box
    that covers the whole image leaves no background: its outer frame teaches the background layer, but
    nothing is fixed (GrabCut stops with an error there)."""
    h, w = shape
    x0, y0, x1, y1 = box
    inside = np.zeros(shape, bool)
    inside[y0:y1, x0:x1] = True
    outside = ~inside
    if outside.any():
        return inside.astype(np.float32), outside.astype(np.float32), outside.astype(np.float32)
    frame = np.ones(shape, bool)
    m = max(1, round(BOX_FRAME * min(h, w)))
    frame[m:h - m, m:w - m] = False
    return (~frame).astype(np.float32), frame.astype(np.float32), np.zeros(shape, np.float32)


def band_prior(sure_fg: np.ndarray, sure_bg: np.ndarray, full_width: float = 0.1, no_width: float = 0.2
               ) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel lies across the gap between the sure hints, and how much that says (both HxW float32).

    A person who draws a band around an object (a lasso trimap, a thick brush along the outline) puts the
    object's edge inside it, most likely near its middle. `to_fg` is 0 on the foreground hint's side of the
    gap and 1 on the background's (d_fg / (d_fg + d_bg), the distances to the nearest hinted pixel), and
    `weight` is 1 where the gap is narrow (at most `full_width` of the longest side) and falls to 0 at
    `no_width`: between sparse strokes far apart the middle says nothing. No sure foreground: no prior."""
    if not sure_fg.any() or not sure_bg.any():
        zero = np.zeros(sure_fg.shape, np.float32)
        return zero, zero
    d_fg = cv2.distanceTransform((~sure_fg).view(np.uint8), cv2.DIST_L2, 5)
    d_bg = cv2.distanceTransform((~sure_bg).view(np.uint8), cv2.DIST_L2, 5)
    gap = np.maximum(d_fg + d_bg, 1e-6)
    to_fg = d_fg / gap
    width = gap / max(sure_fg.shape)
    weight = np.clip((no_width - width) / (no_width - full_width), 0.0, 1.0)
    return to_fg.astype(np.float32), weight.astype(np.float32)


BAND_CENTRED = 0.15  # a band-free edge this close to the band's middle (as a share of its width): drawn centred
BAND_SPREAD = 2.2  # an off-centre band's weight: at most this over the spread (IQR) of the edge across it


def band_edge(labels: np.ndarray, to_fg: np.ndarray, band: np.ndarray, fixed: np.ndarray,
              least: int = 20) -> tuple[float, float] | None:
    """Where the edge of a foreground labelling runs across the band (band_prior's `to_fg`, `band`): the
    median and the interquartile range of to_fg over its edge pixels where the band has weight and nothing
    is `fixed`; None when fewer than `least` edge pixels lie there."""
    inner = cv2.erode(labels.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    on = labels & ~inner & (band > 0.5) & ~fixed
    if on.sum() < least:
        return None
    q1, median, q3 = np.percentile(to_fg[on], [25, 50, 75])
    return float(median), float(q3 - q1)


def placed_band(found: tuple[float, float] | None, weight: float, centred: float = BAND_CENTRED,
                spread: float = BAND_SPREAD) -> tuple[float, float]:
    """Where a band's edge is expected and how sure that is, read from the photo: the (centre, weight) of the
    band prior given band_edge of a labelling found without it (`found`). A person aims a lasso at the
    outline, but draws it loose: where the photo's edge runs near the band's middle the band is taken as
    centred (0.5, the full `weight`); where it runs off-centre the prior follows it, as strong as the edge
    runs evenly across the band (weight at most `spread` / its interquartile range). No edge found in the
    band: (0.5, 0), no prior."""
    if found is None:
        return 0.5, 0.0
    centre, iqr = found
    if abs(centre - 0.5) <= centred:
        return 0.5, weight
    return centre, min(weight, spread / max(iqr, 1e-3))


def band_costs(to_fg: np.ndarray, band: np.ndarray, centre: float, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """The band prior's costs of the foreground and background labels for an edge expected `centre` of the
    way across the band: the log-odds of a logistic edge position, linear in to_fg on each side of the
    centre, `weight` at the hints (a centre of 0.5 gives weight x (2 to_fg - 1) between the labels)."""
    d = to_fg - centre
    return (weight * band * np.clip(d / max(1 - centre, 1e-3), 0, 1),
            weight * band * np.clip(-d / max(centre, 1e-3), 0, 1))
