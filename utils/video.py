"""Video in and out, one frame at a time, so memory does not grow with a clip's length.

`VideoReader` decodes every `step`-th frame (the others are only grabbed, never converted), reports a
frame that cannot be decoded mid-stream and goes on. `FrameStore` keeps finished frames crash-safe on
disk in segments (lossless FFV1 AVIs, each closed after `segment` frames), which is what makes a video run
resumable and lets torchrun's processes each write their own part. `encode` writes the
frames once, at the end, as the .mp4 people play: H.264 where the installed OpenCV has an encoder,
MPEG-4 Part 2 otherwise. Every file is written under a temporary name and renamed when complete."""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from utils.atomic import atomic_path
from utils.errors import UserError
from utils.image_io import check_readable_file, to_uint8

CODECS = ("avc1", "mp4v")  # H.264 first (people can play it everywhere), MPEG-4 Part 2 where it is missing
MAX_BAD_IN_A_ROW = 8  # more failed reads than this in a row: the end of the stream, not bad frames


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
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


class VideoReader:
    """A video's frames, one at a time, as HxWx3 float RGB in [0, 1]; `fps`, `size` (w, h) and `count`
    (the container's frame count; 0 when it does not say) are known once it is open."""

    def __init__(self, path: str | os.PathLike, what: str = "input video") -> None:
        self.path, self.what = check_readable_file(path, what), what
        with quiet_native_stderr():
            self.cap = cv2.VideoCapture(str(self.path))
            opened = self.cap.isOpened()
        if not opened:
            raise UserError(f"{what} cannot be decoded: {self.path} (not a video, or a codec OpenCV lacks; "
                            "re-encode it as H.264 or MPEG-4 .mp4)")
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 25.0)
        self.count = max(0, int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.size = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cap.release()

    def count_frames(self) -> int:
        """The frames left to read, grabbed without decoding (for containers that do not say)."""
        n, failed = 0, 0
        while failed <= MAX_BAD_IN_A_ROW:
            with quiet_native_stderr():
                ok = self.cap.grab()
            if ok:
                n, failed = n + 1 + failed, 0
            else:
                failed += 1
        return n

    def frames(self, step: int = 1, start: int = 0, stop: int | None = None
               ) -> Iterator[tuple[int, np.ndarray | None]]:
        """(index, frame) for the frames whose index (0-based, counting every frame of the video) is a
        multiple of `step` in [start, stop); frame is None where it cannot be decoded (a damaged frame in
        the middle; the ones after it are read as usual). Frames before `start` and between kept ones are
        grabbed, not decoded to colour. Reading starts where the last call stopped: call with increasing
        ranges, or open a new reader."""
        i, failed = getattr(self, "_next", 0), []
        while (stop is None or i < stop) and (not self.count or i < self.count):
            keep = i >= start and i % step == 0
            with quiet_native_stderr():
                ok = self.cap.grab()
                frame = None
                if ok and keep:
                    ok, frame = self.cap.retrieve()
            if not ok:
                failed.append(i)
                i += 1
                if len(failed) > MAX_BAD_IN_A_ROW:  # the stream has ended (the container overstated its count)
                    break
                continue
            for j in failed:  # reads failed before a good one: damaged frames, not the end
                if j >= start and j % step == 0:
                    yield j, None
            failed = []
            self._next = i + 1
            if keep:
                yield i, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
            i += 1
        self._next = i


def video_indices(reader: VideoReader, step: int) -> list[int]:
    """The indices of every `step`-th frame of the clip (counted by grabbing, without decoding, when the
    container does not say how many frames it holds)."""
    count = reader.count
    if not count:
        with VideoReader(reader.path, reader.what) as counter:
            count = counter.count_frames()
    return list(range(0, count, step))


def open_video(path: str | os.PathLike, what: str = "input video") -> VideoReader:
    """A reader whose first frame decodes: a file with no readable frame is one clear error."""
    reader = VideoReader(path, what)
    probe = VideoReader(path, what)
    with probe:
        first = next((f for _, f in probe.frames() if f is not None), None)
    if first is None:
        reader.cap.release()
        raise UserError(f"{what} has no readable frames: {reader.path} (empty, truncated, or a codec OpenCV "
                        "lacks)")
    if reader.size[0] <= 0 or reader.size[1] <= 0:
        reader.size = (first.shape[1], first.shape[0])
    return reader


def read_video(path: str | os.PathLike, step: int = 1, what: str = "input video") -> tuple[list[np.ndarray], float]:
    """Every `step`-th readable frame of a (short) video, all in memory, and its frame rate: for tests and
    small clips; runs stream with VideoReader instead."""
    with open_video(path, what) as reader:
        return [f for _, f in reader.frames(step) if f is not None], reader.fps


def _writer(path: str, fps: float, size: tuple[int, int], fourcc: str) -> cv2.VideoWriter | None:
    with quiet_native_stderr():
        w = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), float(fps), size)
    if w.isOpened():
        return w
    w.release()
    return None


def mp4_codec(probe_dir: str | os.PathLike) -> str:
    """The first of CODECS this OpenCV can write (probed once with a tiny file in `probe_dir`)."""
    global _CODEC
    if _CODEC is None:
        for fourcc in CODECS:
            with atomic_path(Path(probe_dir) / "codec-probe.mp4") as tmp:
                w = _writer(tmp, 10.0, (16, 16), fourcc)
                if w is not None:
                    w.write(np.zeros((16, 16, 3), np.uint8))
                    w.release()
                    _CODEC = fourcc
                    break
        else:
            raise OSError("OpenCV cannot write MPEG-4 video here")
        (Path(probe_dir) / "codec-probe.mp4").unlink(missing_ok=True)
    return _CODEC


_CODEC: str | None = None


def _bgr(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame if frame.dtype == np.uint8 else to_uint8(frame), cv2.COLOR_RGB2BGR)


def encode(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int]) -> int:
    """Write frames (HxWx3 RGB, float or uint8) as an .mp4 at `fps`, atomically; returns the number
    written. Frames are taken from the iterable one at a time."""
    p = Path(path)
    n = 0
    with atomic_path(p) as tmp:
        writer = _writer(tmp, fps, size, mp4_codec(p.parent))
        if writer is None:
            raise OSError(f"OpenCV cannot write video {p}")
        try:
            for f in frames:
                writer.write(_bgr(f))
                n += 1
        finally:
            writer.release()
    return n


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write a short list of frames as an .mp4 (see encode)."""
    h, w = frames[0].shape[:2]
    encode(path, frames, fps, (w, h))
    return Path(path)


class FrameStore:
    """Finished frames on disk, crash-safe: lossless FFV1 AVIs of `segment` frames each (about a third of
    the raw size; the final encode starts from the exact frames), named part_RANK_NNNNN.avi in `folder`.
    A segment is written under a temporary name and renamed once closed: after a crash, every
    segment there is complete, and a resumed run starts after the last one."""

    def __init__(self, folder: Path, fps: float, size: tuple[int, int], rank: int = 0, segment: int = 25) -> None:
        self.folder, self.fps, self.size, self.rank, self.segment = folder, fps, size, rank, segment
        folder.mkdir(parents=True, exist_ok=True)
        self.done = sorted(folder.glob(f"part_{rank}_*.avi"))  # complete segments (a resumed run's)
        self._writer: cv2.VideoWriter | None = None
        self._tmp: Path | None = None
        self._in_segment = 0

    def append(self, frame: np.ndarray) -> bool:
        """Add a frame; True when it closed a segment (the moment to save a resumable state)."""
        if self._writer is None:
            self._tmp = self.folder / f".part_{self.rank}_{len(self.done):05d}.avi"
            self._writer = _writer(str(self._tmp), self.fps, self.size, "FFV1")
            if self._writer is None:
                raise OSError(f"OpenCV cannot write video {self._tmp}")
        self._writer.write(_bgr(frame))
        self._in_segment += 1
        if self._in_segment >= self.segment:
            self.close()
            return True
        return False

    def close(self) -> None:
        """Close the open segment (if any) and keep it."""
        if self._writer is None:
            return
        self._writer.release()
        final = self.folder / self._tmp.name[1:]
        os.replace(self._tmp, final)
        self.done.append(final)
        self._writer, self._tmp, self._in_segment = None, None, 0

    def adopt(self, parts: Sequence[Path]) -> None:
        """Take over an earlier run's finished segments (a resumed run): linked where the disk allows, else
        copied, into this store's folder."""
        for part in parts:
            mine = self.folder / part.name
            try:
                os.link(part, mine)
            except OSError:
                shutil.copyfile(part, mine)
            self.done.append(mine)

    @staticmethod
    def frames(parts: Sequence[Path]) -> Iterator[np.ndarray]:
        """Every frame of the segments, in order, as uint8 RGB."""
        for part in parts:
            cap = cv2.VideoCapture(str(part))
            try:
                while True:
                    ok, bgr = cap.read()
                    if not ok:
                        break
                    yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            finally:
                cap.release()


def free_bytes(folder: str | os.PathLike) -> int:
    return shutil.disk_usage(folder).free


def chunk_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """Split items 0..n-1 into `parts` contiguous chunks [start, end) of near-equal size, in order."""
    base, extra = divmod(n, parts)
    bounds, start = [], 0
    for r in range(parts):
        end = start + base + (1 if r < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


class Steadiness:
    """Flicker (mean absolute change between consecutive frames) and temporal SSIM (mean SSIM between
    consecutive frames) of a stream of frames, kept as running sums: only the previous frame is held, as
    8 bits (video frames are 8-bit: nothing is lost)."""

    def __init__(self) -> None:
        self.prev: np.ndarray | None = None
        self.n, self.abs_sum, self.ssim_sum = 0, 0.0, 0.0

    def add(self, frame: np.ndarray) -> None:
        from utils.metrics import ssim
        now = frame if frame.dtype == np.uint8 else to_uint8(frame)
        if self.prev is not None:
            a, b = now.astype(np.float32) / 255.0, self.prev.astype(np.float32) / 255.0
            self.n += 1
            self.abs_sum += float(np.abs(a - b).mean())
            self.ssim_sum += ssim(a, b)
        self.prev = now

    @property
    def flicker(self) -> float:
        return self.abs_sum / self.n if self.n else 0.0

    @property
    def tssim(self) -> float:
        return self.ssim_sum / self.n if self.n else 1.0


def flicker(frames: Sequence[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames (0 for a still video)."""
    s = Steadiness()
    for f in frames:
        s.add(f)
    return s.flicker


def temporal_ssim(frames: Sequence[np.ndarray]) -> float:
    """Mean SSIM between consecutive frames (1 for a still video)."""
    s = Steadiness()
    for f in frames:
        s.add(f)
    return s.tssim
