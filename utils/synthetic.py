"""Test and benchmark images made by our own code from scikit-image's bundled data, with known truth:
texture composites for segmentation, and hazy scenes rendered from Middlebury depth for dehazing."""
from __future__ import annotations

import cv2
import numpy as np
import skimage.data
from scipy import ndimage

from classical.haze import add_haze

TEXTURES = ("brick", "grass", "gravel")
# Middlebury 2014 Motorcycle as bundled by scikit-image (downsampled ×4): calibration from
# skimage.data.stereo_motorcycle's docstring
FOCAL_PX = 994.978
BASELINE_MM = 193.001
DOFFS_PX = 31.086


def texture(name: str, shape: tuple[int, int], tint: tuple[float, float, float] = (1, 1, 1)) -> np.ndarray:
    """A bundled grey texture (brick, grass, gravel) resized to `shape`, tinted, as HxWx3 in [0, 1]."""
    t = getattr(skimage.data, name)().astype(np.float32) / 255.0
    t = cv2.resize(t, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return np.clip(t[:, :, None] * np.asarray(tint, np.float32), 0, 1)


def horse_mask(shape: tuple[int, int]) -> np.ndarray:
    """scikit-image's horse silhouette (True = horse) resized to `shape`."""
    h = (~skimage.data.horse()).astype(np.float32)
    return cv2.resize(h, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) > 0.5


def ellipse_band(shape: tuple[int, int], centre: tuple[float, float] = (0.5, 0.5),
                 radii: tuple[float, float] = (0.46, 0.46), width: float = 0.14) -> np.ndarray:
    """An elliptical ring (fractions of the image size): the third region of a three-layer composite."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(((yy / h - centre[0]) / radii[0]) ** 2 + ((xx / w - centre[1]) / radii[1]) ** 2)
    return (r <= 1.0) & (r >= 1.0 - width / min(radii))


def composite(shape: tuple[int, int], fg: str = "grass", bg: str = "brick", mg: str | None = None,
              fg_tint: tuple[float, float, float] = (1, 1, 1), bg_tint: tuple[float, float, float] = (1, 1, 1),
              mg_tint: tuple[float, float, float] = (1, 1, 1), same_colours: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    """A texture composite and its label map: the horse in `fg` on `bg` (labels 2 fg, 0 bg); with
    `mg`, an elliptical band of `mg` around it (label 1) for three-layer tests. With `same_colours` the
    other textures take the background's histogram of grey levels: the regions differ in their structure
    only, so colour alone cannot tell them apart."""
    from skimage.exposure import match_histograms
    labels = np.zeros(shape, np.uint8)
    if mg:
        labels[ellipse_band(shape)] = 1
    labels[horse_mask(shape)] = 2
    img = texture(bg, shape, bg_tint)

    def region(name: str, tint: tuple[float, float, float]) -> np.ndarray:
        t = texture(name, shape, tint)
        return match_histograms(t, img, channel_axis=-1).astype(np.float32) if same_colours else t
    if mg:
        img = np.where((labels == 1)[:, :, None], region(mg, mg_tint), img)
    img = np.where((labels == 2)[:, :, None], region(fg, fg_tint), img)
    return img.astype(np.float32), labels


def eroded_hints(labels: np.ndarray, values: list[int], size: int = 15) -> list[np.ndarray]:
    """Hints from a label map: each region eroded by a size×size square, in the order of `values`
    (the image border is not a region boundary, so regions are not eroded from it)."""
    se = np.ones((size, size), bool)
    return [ndimage.binary_erosion(labels == v, se, border_value=1).astype(np.float32) for v in values]


def band_hints(labels: np.ndarray, values: list[int], distances: list[float]) -> list[np.ndarray]:
    """Hints as people draw a band around an edge, not centred on it: region `values[k]` kept where it lies
    more than `distances[k]` pixels (Euclidean) from every other region (the image border is no edge),
    e.g. the object eroded by 4 px and the background by 16 px."""
    out = []
    for v, d in zip(values, distances, strict=True):
        inside = np.pad(labels == v, 1, mode="edge")
        out.append((ndimage.distance_transform_edt(inside)[1:-1, 1:-1] > d).astype(np.float32))
    return out


def two_texture(shape: tuple[int, int] = (64, 96), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small fast test image: a smooth warm blob of fine noise on a cool striped ground; truth mask."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    truth = ((yy - h * 0.5) / (h * 0.32)) ** 2 + ((xx - w * 0.45) / (w * 0.28)) ** 2 <= 1
    stripes = 0.5 + 0.25 * np.sin(xx * 0.9)[:, :, None] * np.array([0.3, 0.6, 1.0])
    bg = np.clip(stripes * np.array([0.4, 0.6, 1.0]) + 0.03 * rng.standard_normal((h, w, 3)), 0, 1)
    fg = np.clip(np.array([0.9, 0.55, 0.2]) + 0.08 * rng.standard_normal((h, w, 3)), 0, 1)
    return np.where(truth[:, :, None], fg, bg).astype(np.float32), truth


def three_texture(shape: tuple[int, int] = (64, 96), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small fast three-region test image and its labels (2 = fg disc, 1 = mg ring, 0 = bg)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(((yy - h / 2) / (h * 0.45)) ** 2 + ((xx - w / 2) / (w * 0.45)) ** 2)
    labels = np.where(r <= 0.5, 2, np.where(r <= 1.0, 1, 0)).astype(np.uint8)
    noise = 0.04 * rng.standard_normal((h, w, 3))
    bg = 0.5 + 0.25 * np.sin(xx * 0.9)[:, :, None] * np.array([0.3, 0.6, 1.0]) * np.array([0.4, 0.6, 1.0])
    mg = np.array([0.85, 0.5, 0.2]) + 0.15 * np.sign(np.sin(yy * 0.7))[:, :, None]
    fg = np.array([0.2, 0.8, 0.3]) + 0.1 * ((xx // 3 + yy // 3) % 2)[:, :, None]
    img = np.select([labels[:, :, None] == 2, labels[:, :, None] == 1], [fg, mg], bg) + noise
    return np.clip(img, 0, 1).astype(np.float32), labels


def fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid entries by the value of the nearest valid one."""
    _, (iy, ix) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return values[iy, ix]


def motorcycle_depth_m() -> tuple[np.ndarray, np.ndarray]:
    """The Motorcycle image (float RGB) and its metric depth in metres: Z = f·B / (d + doffs), invalid
    disparities filled from their nearest valid neighbours."""
    import skimage.data
    left, _, disp = skimage.data.stereo_motorcycle()
    valid = np.isfinite(disp) & (disp > 0)
    d = fill_invalid(np.where(valid, disp, 0), valid)
    z = FOCAL_PX * BASELINE_MM / (d + DOFFS_PX) / 1000.0
    return left.astype(np.float32) / 255.0, z.astype(np.float32)


def hazy_motorcycle(beta: float = 0.2, airlight: tuple[float, float, float] = (0.8, 0.8, 0.8),
                    scale: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A hazy Motorcycle scene: (hazy, clean, t), downscaled by `scale` with area averaging
    (0.5 gives 370×250)."""
    clean, z = motorcycle_depth_m()
    if scale != 1:
        size = (round(clean.shape[1] * scale), round(clean.shape[0] * scale))
        clean = cv2.resize(clean, size, interpolation=cv2.INTER_AREA)
        z = cv2.resize(z, size, interpolation=cv2.INTER_AREA)
    hazy, t = add_haze(clean, z, beta, np.asarray(airlight, np.float32))
    return hazy, clean, t


def photo(name: str, shape: tuple[int, int]) -> np.ndarray:
    """A bundled scikit-image photo (astronaut, coffee, chelsea, rocket, ...) centre-cropped to the aspect of
    `shape` and resized to it, as HxWx3 in [0, 1]."""
    img = getattr(skimage.data, name)()
    img = np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]
    h, w = img.shape[:2]
    scale = min(h / shape[0], w / shape[1])
    ch, cw = round(shape[0] * scale), round(shape[1] * scale)
    y, x = (h - ch) // 2, (w - cw) // 2
    img = img[y:y + ch, x:x + cw].astype(np.float32) / 255.0
    return cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def mixtures(a: np.ndarray, b: np.ndarray, weights: tuple[float, ...] = (0.5,)) -> list[np.ndarray]:
    """Mixtures I_k = α_k·a + (1 − α_k)·b of two layers: a photo through glass and its reflection."""
    return [(w * a + (1 - w) * b).astype(np.float32) for w in weights]


def watermark_mask(shape: tuple[int, int], text: str = "SAMPLE", size: float = 0.5) -> np.ndarray:
    """A text watermark's coverage (HxW in [0, 1], anti-aliased), centred, about `size` of the width."""
    font, thickness = cv2.FONT_HERSHEY_DUPLEX, max(1, round(shape[1] / 90))
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = size * shape[1] / tw
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    canvas = np.zeros(shape, np.uint8)
    org = ((shape[1] - tw) // 2, (shape[0] + th) // 2)
    cv2.putText(canvas, text, org, font, scale, 255, thickness, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


def watermarked(clean: np.ndarray, coverage: np.ndarray, opacity: float = 0.5,
                colour: tuple[float, float, float] = (1, 1, 1)) -> np.ndarray:
    """`clean` under a mark of `colour` alpha-blended with opacity·coverage: I = α·W + (1 − α)·C."""
    alpha = (opacity * coverage)[:, :, None]
    return (alpha * np.asarray(colour, np.float32) + (1 - alpha) * clean).astype(np.float32)


def box_around(mask: np.ndarray, margin: int = 6) -> np.ndarray:
    """A rectangular hint (HxW float) around the nonzero pixels of `mask`, `margin` pixels wider."""
    ys, xs = np.nonzero(mask > 0.05)
    hint = np.zeros(mask.shape, np.float32)
    hint[max(0, ys.min() - margin):ys.max() + margin + 1, max(0, xs.min() - margin):xs.max() + margin + 1] = 1
    return hint
