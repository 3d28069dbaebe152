"""Long videos: streamed (memory does not grow with the clip), resumable, and a damaged frame or a full disk
handled cleanly."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import ROOT, results, run_cli, run_script

from utils import checkpoint
from utils.synthetic import hazy_motorcycle
from utils.video import read_video

TINY = ["--video_iters_first=3", "--video_iters_next=2", "--max_side=48", "--channels=[8,16]", "--skips=[0,4]",
        "--progress=false"]


def write_clip(path: Path, frames: int, size: tuple[int, int], fourcc: str = "mp4v", fps: float = 8.0) -> Path:
    """A pan across a hazy scene, written one frame at a time (never all in memory)."""
    hazy = hazy_motorcycle(beta=0.3, scale=0.5)[0]
    w, h = size
    scene = cv2.resize((hazy * 255).astype(np.uint8), (w + frames, h), interpolation=cv2.INTER_LINEAR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for i in range(frames):
        writer.write(cv2.cvtColor(np.ascontiguousarray(scene[:, i:i + w]), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "pan.mp4", 9, (64, 48))


def peak_rss_mb(args: list[str]) -> float:
    """Peak resident memory of dehazing_system.py run with `args`, in a process of its own."""
    code = (f"import resource, runpy, sys; sys.argv = {['dehazing_system.py', *args]!r}\n"
            "try:\n    runpy.run_path('dehazing_system.py', run_name='__main__')\nfinally:\n"
            "    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return int(re.search(r"peak_rss_kb (\d+)", p.stderr).group(1)) / 1024


def test_peak_memory_of_a_1080p_clip_does_not_grow_with_its_length(tmp_path):
    """200 and 400 frames of 1920x1080 (kept in memory, the frames alone would be 2.5 and 5 GB as floats):
    one iteration per frame, every 100th frame dehazed, the others grabbed without decoding."""
    args = ["--video_iters_first=1", "--video_iters_next=1", "--frame_step=100", "--max_side=64",
            "--channels=[8,16]", "--skips=[0,4]", "--progress=false", "--device=cpu", f"--output_dir={tmp_path}"]
    short = peak_rss_mb([f"--video={write_clip(tmp_path / 'a.mp4', 200, (1920, 1080))}", *args])
    long = peak_rss_mb([f"--video={write_clip(tmp_path / 'b.mp4', 400, (1920, 1080))}", *args])
    print(f"peak RSS: 200 frames {short:.0f} MB, 400 frames {long:.0f} MB")
    assert long < short * 1.05 + 20, (short, long)  # no growth with the length
    assert long < 2000  # about a dozen frame-sized buffers at most, beside torch itself (1006-1026 MB alone;
    # once 1671 MB for both lengths inside a whole CI run, not reproduced: the growth check above is the test)
    runs = sorted(tmp_path.glob("video1_*"))
    assert [results(r)["frames_dehazed"] for r in runs] == [2, 4]


def frames_of(run: Path) -> list[np.ndarray]:
    return read_video(run / "dehazed.mp4")[0]


@pytest.fixture(scope="module")
def uninterrupted(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return run_script("dehazing_system", [f"--video={clip}", "--video_segment=2", f"--output_dir={out}", *TINY])


def same_video(a: Path, b: Path) -> None:
    fa, fb = frames_of(a), frames_of(b)
    assert len(fa) == len(fb) == 9
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))
    ra, rb = results(a), results(b)
    keep = ("frame", "iterations", "reconstruction_psnr", "airlight")
    assert [{k: f[k] for k in keep} for f in ra["per_frame"]] == [{k: f[k] for k in keep} for f in rb["per_frame"]]
    assert ra["flicker_output"] == pytest.approx(rb["flicker_output"], abs=1e-9)


def test_ctrl_c_mid_video_resumes_to_the_uninterrupted_result(clip, uninterrupted, tmp_path, monkeypatch):
    import dehazing_system
    from utils.signals import STOP
    real, calls = dehazing_system.dehaze_frame, []

    def stop_after_five(*a, **k):  # Ctrl-C while the 6th frame is dehazed
        calls.append(1)
        if len(calls) == 6:
            STOP.signal = 2
        return real(*a, **k)
    monkeypatch.setattr(dehazing_system, "dehaze_frame", stop_after_five)
    try:
        stopped = run_script("dehazing_system", [f"--video={clip}", "--video_segment=2",
                                                 f"--output_dir={tmp_path / 'a'}", *TINY])
    finally:
        STOP.signal = None
    r = results(stopped)
    assert r["interrupted"] is True and r["frames_dehazed"] == 5 and len(frames_of(stopped)) == 5
    monkeypatch.setattr(dehazing_system, "dehaze_frame", real)
    resumed = run_script("dehazing_system", [f"--resume={stopped}", f"--output_dir={tmp_path / 'b'}"])
    assert results(resumed)["resumed_from"] == str(stopped) and results(resumed)["interrupted"] is False
    same_video(uninterrupted, resumed)
    assert not (resumed / "segments").exists(), "a complete run keeps no segments"


def test_crash_mid_video_resumes_after_the_last_segment(clip, uninterrupted, tmp_path, monkeypatch):
    """A crash leaves the closed segments, the state saved with the last of them and a half-written
    segment: the resumed run redoes the frames after the last closed segment."""
    saves = []
    real_save = checkpoint.save_video_state

    def save_and_snapshot(run_dir, rank, state):  # the run folder as a crash right after this save leaves it
        real_save(run_dir, rank, state)
        snap = tmp_path / f"after_{state.position}"
        shutil.copytree(run_dir, snap, ignore=shutil.ignore_patterns("*.mp4", "results.json"))
        saves.append((state.position, snap))
    monkeypatch.setattr(checkpoint, "save_video_state", save_and_snapshot)
    run_script("dehazing_system", [f"--video={clip}", "--video_segment=2", f"--output_dir={tmp_path / 'a'}", *TINY])
    assert [p for p, _ in saves] == [2, 4, 6, 8, 9]  # each segment of 2 frames, and the end
    monkeypatch.setattr(checkpoint, "save_video_state", real_save)
    crash = saves[1][1]  # frames 0-3 in two closed segments; frames 4 and 5 were being written
    (crash / "segments" / ".part_0_00002.avi").write_bytes(b"half a segment")
    resumed = run_script("dehazing_system", [f"--resume={crash}", f"--output_dir={tmp_path / 'b'}"])
    same_video(uninterrupted, resumed)


def test_damaged_frame_is_skipped_with_a_warning_and_the_count_kept(tmp_path):
    path = write_clip(tmp_path / "clip.avi", 8, (64, 48), fourcc="MJPG")
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[3]:starts[3] + 300] = bytes(300)  # frame 3's JPEG data zeroed
    path.write_bytes(bytes(data))
    code, out, err = run_cli("dehazing_system", [f"--video={path}", f"--output_dir={tmp_path / 'o'}", *TINY])
    assert code == 0, err
    run = Path(out.strip().splitlines()[-1])
    r = results(run)
    assert r["bad_frames"] == [3] and r["frames_dehazed"] == 8
    assert "damaged frame" in out
    video = frames_of(run)
    assert len(video) == 8
    repeat, step = np.abs(video[3] - video[2]).mean(), np.abs(video[2] - video[1]).mean()
    assert repeat < 0.2 * step  # the previous result, repeated (up to the lossy codec)


def test_disk_filling_up_mid_video_is_one_line_exit_2_and_a_playable_file(clip, tmp_path, monkeypatch):
    import utils.video
    calls = []

    def filling_up(folder):  # room for four frames, then the disk is full
        calls.append(1)
        return 10**12 if len(calls) <= 4 else 10**6
    monkeypatch.setattr(utils.video, "free_bytes", filling_up)
    code, out, err = run_cli("dehazing_system", [f"--video={clip}", "--video_segment=3",
                                                 f"--output_dir={tmp_path}", *TINY])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: the disk of") and "--resume=" in lines[0], err
    run = next(tmp_path.glob("video1_*"))
    assert len(frames_of(run)) == 4 and results(run)["stopped"] == ["disk_full"]
    assert not list(run.glob(".*")), "no temporary file left"


def test_output_is_h264_or_mpeg4_with_the_inputs_frame_rate_and_size(clip, uninterrupted):
    cap = cv2.VideoCapture(str(uninterrupted / "dehazed.mp4"))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc in ("avc1", "mp4v", "FMP4"), fourcc
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(8.0)
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (64, 48)
    cap.release()
