"""Video in and out with OpenCV, frames as float RGB in [0, 1]; outputs written atomically."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from utils.atomic import atomic_path
from utils.errors import UserError
from utils.image_io import check_readable_file, to_uint8


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence FFmpeg's own messages (written by native code to fd 2) while OpenCV probes a file, so a bad
    video gives our one-line error and nothing else."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def read_video(path: str | os.PathLike, step: int = 1, what: str = "input video") -> tuple[list[np.ndarray], float]:
    """Every `step`-th frame of a video as HxWx3 float RGB, and its frame rate."""
    p = check_readable_file(path, what)
    with _quiet_native_stderr():
        cap = cv2.VideoCapture(str(p))
        opened = cap.isOpened()
    if not opened:
        raise UserError(f"{what} cannot be decoded: {p} (not a video, or a codec OpenCV lacks; "
                        "re-encode it as H.264 or MPEG-4 .mp4)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames: list[np.ndarray] = []
    i = 0
    while True:
        with _quiet_native_stderr():
            ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)
        i += 1
    cap.release()
    if not frames:
        raise UserError(f"{what} has no readable frames: {p} (empty, truncated, or a codec OpenCV lacks)")
    return frames, float(fps)


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write frames (HxWx3 float RGB or uint8) as an MPEG-4 .mp4, atomically."""
    p = Path(path)
    h, w = frames[0].shape[:2]
    with atomic_path(p) as tmp:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write video {p}")
        for f in frames:
            writer.write(cv2.cvtColor(f if f.dtype == np.uint8 else to_uint8(f), cv2.COLOR_RGB2BGR))
        writer.release()
    return p


def chunk_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """Split frames 0..n-1 into `parts` contiguous chunks [start, end) of near-equal size, in order."""
    base, extra = divmod(n, parts)
    bounds, start = [], 0
    for r in range(parts):
        end = start + base + (1 if r < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def flicker(frames: Sequence[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames (0 for a still video)."""
    if len(frames) < 2:
        return 0.0
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(frames[:-1], frames[1:], strict=True)]))


def temporal_ssim(frames: Sequence[np.ndarray]) -> float:
    """Mean SSIM between consecutive frames (1 for a still video)."""
    from utils.metrics import ssim
    if len(frames) < 2:
        return 1.0
    return float(np.mean([ssim(b, a) for a, b in zip(frames[:-1], frames[1:], strict=True)]))
