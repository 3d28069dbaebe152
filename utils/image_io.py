"""Image files in and out: any common format becomes float RGB in [0, 1]; outputs are lossless PNGs
written atomically; sizes are padded for the networks and cropped back so outputs match the input."""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from utils.atomic import atomic_path
from utils.errors import UserError

# EXIF orientation tag -> (np.rot90 turns counter-clockwise, flip left-right first)
_EXIF_ORIENTATION = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False),
                     7: (3, True), 8: (1, False)}


MAX_PIXELS = 250_000_000  # larger images are refused with a clear line (a 12000x9000 photo is 108 Mpx)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def check_readable_file(path: str | os.PathLike, what: str = "input image") -> Path:
    """Fail with one clear line when `path` is missing, a directory, unreadable or empty."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{what} not found: {p} (check the path)")
    if p.is_dir():
        raise UserError(f"{what} is a directory, not a file: {p} (give the path of a file inside it)")
    if not os.access(p, os.R_OK):
        raise UserError(f"{what} is not readable: {p} (check its permissions)")
    if p.stat().st_size == 0:
        raise UserError(f"{what} is an empty file (0 bytes): {p} (give a real image)")
    return p


def _to_float(arr: np.ndarray) -> np.ndarray:
    """Integers scaled to [0, 1] (in place on one float copy: a huge photo is converted once)."""
    if np.issubdtype(arr.dtype, np.integer):
        out = arr.astype(np.float32, order="C")
        out *= 1.0 / float(max(np.iinfo(arr.dtype).max, 1))
        return out
    arr = arr.astype(np.float32, order="C")
    top = float(np.nanmax(arr)) if arr.size else 1.0
    return np.clip(arr / top if top > 1.0 else arr, 0.0, 1.0)


def _read(path: str | os.PathLike, what: str) -> np.ndarray:
    """The decoded pixels in their own type, EXIF-oriented: HxW (grey) or HxWx3 (RGB)."""
    p = check_readable_file(path, what)
    try:
        with warnings.catch_warnings():  # the size is checked below, with a clearer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
        with im:
            if im.width * im.height > MAX_PIXELS:
                raise UserError(f"{what} is {im.width}x{im.height} ({im.width * im.height / 1e6:.0f} Mpx), more than "
                                f"the {MAX_PIXELS / 1e6:.0f} Mpx accepted: {p} (downscale it first)")
            im.load()
            orientation = im.getexif().get(0x0112, 1)
            if im.mode == "P" or im.format == "JPEG":  # one decode, with the palette or EXIF turn applied
                return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except UnidentifiedImageError:
        raise UserError(f"{what} is not an image file: {p} (use PNG, JPEG, TIFF or BMP)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{what} is corrupt or truncated: {p} ({e}); re-export or re-download it") from None
    arr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if arr is None:  # a format OpenCV lacks but Pillow reads (e.g. GIF)
        with Image.open(p) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3:
        arr = arr[:, :, 2::-1] if arr.shape[2] >= 3 else arr[:, :, 0]  # BGR(A) -> RGB; grey+alpha -> grey
    turns, flip = _EXIF_ORIENTATION.get(int(orientation), (0, False))
    if flip:
        arr = arr[:, ::-1]
    if turns:
        arr = np.rot90(arr, turns)
    return arr


def load_image(path: str | os.PathLike, what: str = "input image") -> np.ndarray:
    """Read PNG/JPEG/TIFF/BMP (grey, RGBA, 16-bit, palette, EXIF-rotated) as float32 RGB HxWx3 in [0, 1].

    Pillow validates the file (so a truncated JPEG is an error, not a half-grey picture) and reads the
    EXIF orientation; its pixels are used for JPEG (8-bit anyway) and palette images, while other formats
    are decoded by OpenCV, which keeps 16 bits per channel for colour files. Alpha is dropped: the
    colour channels are used as they are.
    """
    arr = _read(path, what)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(_to_float(arr))


def load_grey(path: str | os.PathLike, what: str = "mask image") -> np.ndarray:
    """Read an image as float32 HxW in [0, 1], the mean of its colour channels (as load_image(...).mean(2),
    without the three-channel float copy a 12-megapixel mask would cost)."""
    arr = _read(path, what)
    if arr.ndim == 3:
        grey = _to_float(arr[:, :, 0])
        for c in (1, 2):
            grey += _to_float(arr[:, :, c])
        grey *= 1.0 / 3.0
        return grey
    return np.ascontiguousarray(_to_float(arr))


def load_mask(path: str | os.PathLike, shape: tuple[int, int], what: str = "hint mask") -> np.ndarray:
    """Read a mask of any size as a float {0,1} HxW array of `shape`: resized nearest, thresholded at 0.5."""
    m = load_grey(path, what)
    if m.shape != tuple(shape):
        m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return (m > 0.5).astype(np.float32)


def beside(path: str | os.PathLike, suffix: str) -> Path | None:
    """The file named like `path` with `suffix` in place of its extension (photo.jpg, "_gt.png" ->
    photo_gt.png), if it exists: hints, truths and clean images found beside an input."""
    p = Path(path)
    found = p.with_name(p.stem + suffix)
    return found if found.is_file() else None


INPUT_COPY_MAX_PIXELS = 4_000_000  # larger inputs are not copied into the run folder (a second of PNG each)


def save_input_copy(run_dir: Path, image: np.ndarray) -> Path | None:
    """input.png: the image as the run read it (RGB, EXIF orientation applied), for inputs up to 4
    megapixels; a larger photo is not copied (the user has it, and its PNG would cost seconds)."""
    if image.shape[0] * image.shape[1] > INPUT_COPY_MAX_PIXELS:
        return None
    return save_image(run_dir / "input.png", image)


def to_batch(x: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """HxW or HxWxC array -> 1×C×H×W float tensor on `device` (the networks' layout)."""
    x = x[:, :, None] if x.ndim == 2 else x
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32))[None].to(device)


def to_uint8(img: np.ndarray, rows: int = 512) -> np.ndarray:
    """[0, 1] floats to 0..255, rounded, a strip of rows at a time (no full-size float temporaries)."""
    out = np.empty(img.shape, np.uint8)
    for y in range(0, img.shape[0], rows):
        out[y:y + rows] = np.clip(img[y:y + rows], 0.0, 1.0) * 255.0 + 0.5
    return out


def save_image(path: str | os.PathLike, img: np.ndarray) -> Path:
    """Write a lossless PNG atomically (temporary name in the same folder, then rename).

    Float arrays are taken as [0, 1]; uint8 arrays are written as they are; HxW is grey, HxWx3 RGB.
    """
    p = Path(path)
    arr = img if img.dtype == np.uint8 else to_uint8(img)
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)
    with atomic_path(p) as tmp:
        if not cv2.imwrite(tmp, arr):
            raise OSError(f"could not write {p}")
    return p


class BackgroundWriter:
    """save_image on a second thread, so a run's last PNGs are compressed (OpenCV lets go of the GIL) while
    its figures are drawn. `with BackgroundWriter() as save: save(path, image)`: when the block ends every
    write has finished, or the first one's error is raised; the arrays must not change meanwhile."""

    def __enter__(self) -> BackgroundWriter:
        self._pool, self._pending = ThreadPoolExecutor(max_workers=1), []
        return self

    def __call__(self, path: str | os.PathLike, img: np.ndarray) -> None:
        self._pending.append(self._pool.submit(save_image, path, img))

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        if exc[0] is None:
            for f in self._pending:
                f.result()


def resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize HxW or HxWxC to `shape` (H, W): area averaging when shrinking, bicubic when growing."""
    h, w = shape
    if img.shape[:2] == (h, w):
        return img
    shrinking = h * w < img.shape[0] * img.shape[1]
    out = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return out.reshape((h, w) + img.shape[2:])


def working_shape(shape: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The (H, W) an image is processed at: scaled down so its longest side is at most `max_side`."""
    h, w = shape
    s = min(1.0, max_side / max(h, w)) if max_side > 0 else 1.0
    return max(1, round(h * s)), max(1, round(w * s))


def pad_to_multiple(img: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-pad HxW(xC) at the bottom/right so both sides are multiples of `multiple`, at least two.

    The encoder halves the size `depth` times, so its input needs sides divisible by 2**depth, and the
    deepest level needs 2x2 pixels for its reflection padding; results are cropped back with `crop`, so
    every output keeps the input's exact size.
    """
    h, w = img.shape[:2]
    ph, pw = max((-h) % multiple, 2 * multiple - h), max((-w) % multiple, 2 * multiple - w)
    if not ph and not pw:
        return img
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (img.ndim - 2)
    mode = "reflect" if (h > ph and w > pw) else "symmetric"
    return np.pad(img, pad, mode=mode)


def crop(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Undo `pad_to_multiple`: keep the top-left `shape` (H, W)."""
    return img[: shape[0], : shape[1]]
