"""The real photographs of ../shared/realdata/ (third-party benchmarks: read there, never copied), split
once and for all into a dev half (settings are chosen on it) and a test half (results are reported on
it), and the hints a person would give, made from each photo's truth.

The split: within each set the photos (or scenes, for sets that hold one scene at several haze levels)
are sorted by name and alternate dev, test, dev, ...; a photo that is in two sets (20 GrabCut photos are
Berkeley photos, and two Berkeley objects can share a photo) is in the same half in both.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata"
HALVES = ("dev", "test")


def alternate(keys: list[str], inherit: dict[str, str] | None = None) -> dict[str, str]:
    """Each key's half: sorted keys alternate dev, test, ...; keys in `inherit` keep the half given there
    (and are left out of the alternation)."""
    inherit = inherit or {}
    half = {k: inherit[k] for k in keys if k in inherit}
    for i, k in enumerate(sorted(k for k in set(keys) if k not in inherit)):
        half[k] = HALVES[i % 2]
    return half


# --- dehazing ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HazyPair:
    set: str
    name: str  # e.g. "RESIDE 0025 heavy", "HazeRD 03 200 m"
    scene: str  # what the split goes by: the levels of one scene stay together
    hazy: Path
    clean: Path | None  # None for the real hazy photos without truth


# (folder, glob of the hazy files, the clean file's name from the hazy one's, display name, scene id)
_HAZY_SETS = {
    "RESIDE": ("reside_outdoor_sample", "*_hazy.jpg", lambda s: s.replace("_hazy", "_clear"),
               lambda s: s.replace("_hazy", "").replace("_", " "), lambda s: s.split("_")[0]),
    "O-HAZE": ("ohaze", "*_hazy.jpg", lambda s: s.replace("_hazy", "_clear"),
               lambda s: s.replace("_outdoor_hazy", ""), lambda s: s.split("_")[0]),
    "HSTS": ("hsts", "*_hazy.png", lambda s: s.replace("_hazy", "_clear"), lambda s: s.replace("_hazy", ""),
             lambda s: s.split("_")[0]),
    "SOTS": ("sots_outdoor", "*_hazy.png", lambda s: s.replace("_hazy", "_clear"),
             lambda s: s.replace("_hazy", ""), lambda s: s.split("_")[0]),
    "HazeRD": ("hazerd", "*_hazy.png", lambda s: s.replace("_hazy", "_clear"),
               lambda s: re.sub(r"_vis(\d+)m_hazy", r" \1 m", s), lambda s: s.split("_")[0]),
}


def hazy_pairs(half: str = "", sets: tuple[str, ...] = tuple(_HAZY_SETS)) -> list[HazyPair]:
    """The hazy/clean pairs of `sets` (all by default) in `half` ("dev", "test", or "" for both)."""
    out = []
    for label in sets:
        folder, pattern, clean_of, name_of, scene_of = _HAZY_SETS[label]
        files = sorted((REAL / folder).glob(pattern))
        halves = alternate([scene_of(f.stem) for f in files])
        for f in files:
            clean = f.with_name(clean_of(f.name))
            if clean.exists() and (not half or halves[scene_of(f.stem)] == half):
                out.append(HazyPair(label, f"{label} {name_of(f.stem)}", scene_of(f.stem), f, clean))
    return out


def hazy_photos(half: str = "") -> list[HazyPair]:
    """The real hazy photos without truth (hazy_nogt/) in `half`."""
    files = sorted((REAL / "hazy_nogt").glob("*.*"))
    halves = alternate([f.stem for f in files])
    return [HazyPair("no truth", f.stem, f.stem, f, None) for f in files if not half or halves[f.stem] == half]


def pair_half(pair: HazyPair) -> str:
    """The half a pair belongs to."""
    return "dev" if pair in hazy_pairs("dev", (pair.set,)) else "test"


# --- segmentation ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Photo:
    set: str  # "GrabCut", "Berkeley", "COCO-MVal"
    name: str
    image: Path
    mask: Path  # the truth: 255 object, 0 background (GrabCut: 128 an unlabelled band, left out of scores)
    box: tuple[int, int, int, int] | None = None  # GrabCut's own box (x0, y0, x1, y1, exclusive)


def _photo_id(name: str) -> str:
    """What the split goes by: Berkeley's second object of a photo ('189011b') is that photo."""
    return re.sub(r"[a-z]$", "", name) if re.fullmatch(r"\d+[a-z]?", name) else name


def _grabcut() -> list[Photo]:
    index = REAL / "grabcut" / "index.csv"
    if not index.exists():
        return []
    with open(index) as fh:
        rows = list(csv.DictReader(fh))
    return [Photo("GrabCut", r["name"], REAL / "grabcut" / r["image"], REAL / "grabcut" / f"{r['name']}_mask.png",
                  (int(r["box_x0"]), int(r["box_y0"]), int(r["box_x1"]) + 1, int(r["box_y1"]) + 1)) for r in rows]


def _masked(label: str, folder: str) -> list[Photo]:
    out = []
    for mask in sorted((REAL / folder).glob("*_mask.png")):
        name = mask.name[: -len("_mask.png")]
        image = next((p for p in (mask.with_name(name + e) for e in (".jpg", ".png", ".bmp")) if p.exists()), None)
        if image is not None:
            out.append(Photo(label, name, image, mask))
    return out


def photos(half: str = "", sets: tuple[str, ...] = ("GrabCut", "Berkeley", "COCO-MVal")) -> list[Photo]:
    """The segmentation photos of `sets` in `half` ("dev", "test" or "" for both)."""
    grabcut = _grabcut()
    first = alternate([_photo_id(p.name) for p in grabcut])
    by_set = {"GrabCut": grabcut, "Berkeley": _masked("Berkeley", "berkeley"),
              "COCO-MVal": _masked("COCO-MVal", "coco_mval")}
    out = []
    for label in sets:
        items = by_set[label]
        halves = alternate([_photo_id(p.name) for p in items], first if label != "GrabCut" else None)
        out += [p for p in items if not half or halves[_photo_id(p.name)] == half]
    return out


# --- hints made from a truth -------------------------------------------------------------------------------

def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_grey(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def diagonal(shape: tuple[int, ...]) -> float:
    return float(np.hypot(shape[0], shape[1]))


def _inside_distance(region: np.ndarray) -> np.ndarray:
    """Each pixel's distance to the nearest pixel outside `region` (0 outside it; the image border is not
    an edge of the region)."""
    padded = cv2.copyMakeBorder(region.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]


def trimap(truth: np.ndarray, inner: float, outer: float) -> tuple[np.ndarray, np.ndarray]:
    """A band drawn around the object: sure foreground = the object eroded by `inner` pixels, sure
    background = beyond `outer` pixels of it. A thin object whose erosion vanishes keeps its innermost
    pixels (a person marks some of it)."""
    obj = truth == 255
    d_in, d_out = _inside_distance(obj), _inside_distance(~obj & (truth != 128))
    fg = d_in > inner
    if not fg.any() and obj.any():
        fg = d_in >= 0.5 * d_in.max()
    bg = (d_out > outer) & ~obj
    if not bg.any():
        bg = d_out >= 0.5 * d_out.max()
    return fg, bg & ~fg


def centred_trimap(truth: np.ndarray, width: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """A tight band centred on the edge: the object eroded and the background kept `width` of the image's
    diagonal away from it."""
    r = width * diagonal(truth.shape)
    return trimap(truth, r, r)


def loose_trimap(truth: np.ndarray, inner: float = 0.01, outer: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """A loose lasso, off-centre as people draw them: the object eroded by 1% of the diagonal, the sure
    background beyond 5% of it (the band's middle lies well outside the edge)."""
    d = diagonal(truth.shape)
    return trimap(truth, inner * d, outer * d)


def box_of(truth: np.ndarray, margin: float = 0.03) -> tuple[int, int, int, int]:
    """A box around the object (x0, y0, x1, y1, exclusive) with `margin` of the image's width / height on
    each side, cut to the image."""
    ys, xs = np.nonzero(truth == 255)
    h, w = truth.shape
    mx, my = round(margin * w), round(margin * h)
    return (max(0, xs.min() - mx), max(0, ys.min() - my), min(w, xs.max() + 1 + mx), min(h, ys.max() + 1 + my))


def strokes(truth: np.ndarray, width: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Strokes a person might draw: the skeletons of the object and of the background, each eroded first by
    4% of the image's shorter side (so the strokes keep away from the edge and lose their small branches),
    drawn `width` pixels wide."""
    from skimage.morphology import skeletonize
    fg, bg = truth == 255, truth == 0
    r = max(2, round(0.04 * min(truth.shape)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    out = []
    for region in (fg, bg):
        core = cv2.erode(region.astype(np.uint8), disk, borderType=cv2.BORDER_CONSTANT, borderValue=1)
        if not core.any():  # a thin region: its skeleton without the erosion
            core = region.astype(np.uint8)
        out.append((cv2.dilate(skeletonize(core > 0).astype(np.uint8), pen) > 0) & region)
    out[1] &= ~out[0]
    return out[0], out[1]


def band_middle(fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """What a band's shape alone says, without the photo: each open pixel to the nearer sure hint."""
    d_fg = cv2.distanceTransform((~fg).astype(np.uint8), cv2.DIST_L2, 5)
    d_bg = cv2.distanceTransform((~bg).astype(np.uint8), cv2.DIST_L2, 5)
    return fg | (~bg & (d_fg < d_bg))


def scores(pred: np.ndarray, truth: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """The GrabCut benchmark's error rate (%) of `pred` (bool) over `region` (the truth's unlabelled band,
    128, left out) and the foreground IoU over the image without that band."""
    fg, known = truth == 255, truth != 128
    r = region & known
    err = 100.0 * float((pred[r] != fg[r]).mean()) if r.any() else 0.0
    union = ((pred | fg) & known).sum()
    return err, float(((pred & fg) & known).sum() / union) if union else 1.0


# --- three layers ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayeredFrame:
    """A DAVIS 2017 frame with two objects: three-layer truth (labels: 255 the larger object, 128 the
    second, 0 background), the pixels not scored (void), and hint files made once for every method."""
    name: str
    video: str  # what the split goes by: frames of one video are near copies
    image: Path
    labels: Path
    void: Path

    def hint(self, kind: str, layer: str) -> Path:
        """The hint file of `kind` (loose, strokes) for `layer` (fg, mg, bg)."""
        return self.image.with_name(f"{self.name}_{kind}_{layer}.png")


VIDEO_GAP = 20  # DAVIS frame numbers: a frame more than this after the one before starts another video


def videos(names: list[str], gap: int = VIDEO_GAP) -> dict[str, str]:
    """Each numbered frame's video, named by its first frame: sorted by number, a new video starts where
    the number jumps by more than `gap` (the set's frames are 012; 129-135; 172-180; 214-215; 309-318)."""
    out, first, last = {}, "", None
    for name in sorted(names, key=int):
        if last is None or int(name) - last > gap:
            first = name
        out[name], last = first, int(name)
    return out


def layered_frames(half: str = "") -> list[LayeredFrame]:
    """The three-layer frames of davis_multi/ in `half` ("dev", "test" or "" for both), split by video."""
    folder = REAL / "davis_multi"
    names = sorted(p.name[: -len("_labels.png")] for p in folder.glob("*_labels.png"))
    names = [n for n in names if (folder / f"{n}.jpg").exists() and n.isdigit()]
    video = videos(names)
    halves = alternate(sorted(set(video.values())))
    return [LayeredFrame(n, video[n], folder / f"{n}.jpg", folder / f"{n}_labels.png", folder / f"{n}_void.png")
            for n in names if not half or halves[video[n]] == half]
