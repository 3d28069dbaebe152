"""One test per row of the README's "What happens when…" table, for both scripts where the row applies.
The last test checks that the table and ROWS below list the same situations."""
import errno
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, results, run_cli, run_command
from PIL import Image

from utils.image_io import load_image, save_image
from utils.synthetic import two_texture

SCRIPTS = ["segmentation", "dehazing_system"]
FAST = {"segmentation": ["--step1_iters=2", "--step2_iters=2", "--progress=false"],
        "dehazing_system": ["--iters=2", "--channels=[8,16]", "--skips=[0,4]", "--progress=false"]}

# README situation (first cell of the table) -> the tests that pin it down
ROWS = {
    'the input (image, hint, truth, `--gt`, video) is missing, a directory, unreadable, empty, not an '
    'image, a truncated JPEG, a video with no frames':
        ['test_bad_input_file_is_one_line_exit_2_and_no_run_folder',
         'test_bad_video_is_one_line_and_exit_2'],
    'a grey, RGBA, 16-bit, palette or EXIF-rotated image':
        ['test_any_image_flavour_is_read_as_rgb_at_its_own_size'],
    'an image smaller than 4x4, an all-black image to dehaze, or one over 250 megapixels':
        ['test_too_small_or_black_image_is_one_line_and_exit_2',
         'test_the_smallest_accepted_image_runs',
         'test_image_over_the_pixel_limit_is_one_line_and_exit_2'],
    'a huge image (e.g. 12000x9000)':
        ['test_huge_image_runs_at_the_capped_resolution_with_full_size_outputs'],
    'a hint mask of another size or not binary; an empty hint, or two overlapping':
        ['test_hint_of_another_size_and_not_binary_is_resized_and_thresholded',
         'test_empty_or_overlapping_hints_are_one_line_and_exit_2'],
    'a three-layer truth with other greys than 0, 128, 255 (another layer count, a JPEG)':
        ['test_three_layer_truth_with_other_greys_is_one_line_and_exit_2'],
    '`--stages` of 0, negative or not a number; an adaptive schedule that cannot stop before its cap':
        ['test_bad_stage_count_or_a_schedule_that_cannot_stop_is_one_line_and_exit_2'],
    '`--gt` (dehazing) of another size than the input; `--truth` (segmentation) of another size':
        ['test_gt_of_another_size_is_an_error_and_truth_is_resized'],
    'an unknown or malformed `--key=value`':
        ['test_unknown_or_malformed_setting_names_the_closest_valid_one'],
    'an output folder that cannot be written, or a disk without room (before or while results are written)':
        ['test_unwritable_output_or_full_disk_fails_before_optimising',
         'test_disk_full_while_writing_is_one_line_and_no_partial_file'],
    'a NaN/Inf loss during optimisation':
        ['test_non_finite_loss_restores_the_best_state_and_writes_results'],
    'Ctrl-C (SIGINT) or SIGTERM':
        ['test_interrupted_run_writes_its_best_result_and_exits_128_plus_signal',
         'test_interrupted_dehazing_writes_its_best_result'],
    'a crash, reboot or Ctrl-C in a run started with `--checkpoint_every=N`':
        ['test_segmentation_resumed_mid_step_matches_the_uninterrupted_run',
         'test_dehazing_resumed_in_its_second_stage_matches_the_uninterrupted_run',
         'test_ctrl_c_saves_a_checkpoint_that_resumes_to_the_uninterrupted_result',
         'test_bad_resume_gives_its_own_one_line_and_exit_2'],
    'a `--box` outside the image, of zero area, or not four numbers':
        ['test_bad_box_is_one_line_and_exit_2'],
    'a box over the whole image (no background outside it), at an edge, thin, or around a tiny object':
        ['test_box_over_the_whole_image_still_finds_the_object',
         'test_every_box_that_fits_the_image_gives_labels_touching_edges_thin_or_around_a_tiny_object'],
    'a folder with no images, or with a one-file setting (`--fg_hint`, `--truth`, `--gt`); a bad image inside it':
        ['test_folder_without_images_is_one_line_and_exit_2',
         'test_one_file_settings_with_a_folder_are_one_line_and_exit_2',
         'test_folder_run_skips_a_bad_image_and_writes_a_summary'],
    'a damaged video frame; the disk full during a video':
        ['test_damaged_frame_is_skipped_with_a_warning_and_the_count_kept',
         'test_disk_filling_up_mid_video_is_one_line_exit_2_and_a_playable_file'],
    'a long video stopped (Ctrl-C, crash, `--stop_after=N`)':
        ['test_ctrl_c_mid_video_resumes_to_the_uninterrupted_result',
         'test_crash_mid_video_resumes_after_the_last_segment',
         'test_two_processes_stopped_and_resumed_under_torchrun_give_the_same_frames'],
    'you want the full traceback of an error':
        ['test_debug_flag_shows_the_traceback'],
}


@pytest.fixture
def files(tiny_files):
    return tiny_files


def args_for(script: str, image: Path, files: Path, out: Path) -> list[str]:
    hints = [f"--fg_hint={files / 'fg.png'}", f"--bg_hint={files / 'bg.png'}"] if script == "segmentation" else []
    return [f"--input={image}", *hints, f"--output_dir={out}", *FAST[script]]


def one_line_error(code: int, err: str, out_dir: Path | None = None) -> str:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    if out_dir is not None:
        assert not any(out_dir.glob("*/*")), "no run folder for a bad input"
    return lines[0]


def jpeg_bytes(shape=(24, 40)) -> bytes:
    import io
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random(shape + (3,)) * 255).astype(np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


BAD_FILES = {
    "missing": (lambda p: None, "not found"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "unreadable": (lambda p: p.write_bytes(jpeg_bytes()), "not readable"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "not_an_image": (lambda p: p.write_text("hello, not an image"), "not an image"),
    "truncated_jpeg": (lambda p: p.write_bytes(jpeg_bytes()[:400]), "truncated"),
}


@pytest.mark.parametrize("which", ["input", "hint", "truth_or_gt"])
@pytest.mark.parametrize("kind", list(BAD_FILES))
@pytest.mark.parametrize("script", SCRIPTS)
def test_bad_input_file_is_one_line_exit_2_and_no_run_folder(script, kind, which, files, tmp_path, monkeypatch):
    if which == "hint" and script == "dehazing_system":
        pytest.skip("dehazing takes no hints")
    bad = tmp_path / "bad.jpg"
    make, message = BAD_FILES[kind]
    make(bad)
    if kind == "unreadable":  # tests may run as root, who can read anything: deny it the way os.access would
        import utils.image_io
        real = utils.image_io.os.access
        monkeypatch.setattr(utils.image_io.os, "access", lambda p, m: False if Path(p) == bad else real(p, m))
    args = args_for(script, files / "img.png", files, tmp_path / "out")
    if which == "input":
        args[0] = f"--input={bad}"
    elif which == "hint":
        args[1] = f"--fg_hint={bad}"
    else:
        args.append(f"--truth={bad}" if script == "segmentation" else f"--gt={bad}")
    if kind == "directory" and which == "input":  # a folder is a folder run: one without images is the error
        message = "no images there"
    line = one_line_error(*run_cli(script, args)[::2], tmp_path / "out")
    assert message in line and str(bad) in line


def _flavours(tmp_path: Path) -> dict[str, tuple[Path, tuple[int, int]]]:
    """Image files of every flavour and the (height, width) they must be read at."""
    rng = np.random.default_rng(1)
    rgb = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    out = {}
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")
    Image.fromarray(np.dstack([rgb, np.full((24, 40), 128, np.uint8)])).save(tmp_path / "rgba.png")
    import cv2
    cv2.imwrite(str(tmp_path / "deep.png"), (rng.random((24, 40, 3)) * 65535).astype(np.uint16))
    Image.fromarray(rgb).quantize(16).save(tmp_path / "palette.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: 40 wide, 24 high becomes 24 wide, 40 high
    Image.fromarray(rgb).save(tmp_path / "exif.jpg", exif=exif.tobytes(), quality=95)
    for name in ("grey.png", "rgba.png", "deep.png", "palette.png"):
        out[name.split(".")[0]] = (tmp_path / name, (24, 40))
    out["exif"] = (tmp_path / "exif.jpg", (40, 24))
    return out


@pytest.mark.parametrize("kind", ["grey", "rgba", "deep", "palette", "exif"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_any_image_flavour_is_read_as_rgb_at_its_own_size(script, kind, files, tmp_path):
    path, shape = _flavours(tmp_path)[kind]
    hint_shape = (40, 56)  # the hints are resized to whatever the image is
    assert load_image(files / "fg.png").shape[:2] == hint_shape
    code, out, err = run_cli(script, args_for(script, path, files, tmp_path / "out"))
    assert code == 0, err
    run = Path(out.strip().splitlines()[-1])
    written = load_image(run / "input.png")
    assert written.shape == shape + (3,)
    assert np.allclose(written, load_image(path), atol=1 / 255)
    result = run / ("mask.png" if script == "segmentation" else "dehazed.png")
    assert load_image(result).shape[:2] == shape


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 3)])
@pytest.mark.parametrize("script", SCRIPTS)
def test_too_small_or_black_image_is_one_line_and_exit_2(script, size, files, tmp_path):
    save_image(tmp_path / "tiny.png", np.full(size + (3,), 0.5, np.float32))
    line = one_line_error(*run_cli(script, args_for(script, tmp_path / "tiny.png", files, tmp_path / "o"))[::2])
    assert "too small" in line
    if script == "dehazing_system":
        save_image(tmp_path / "black.png", np.zeros((40, 40, 3), np.float32))
        line = one_line_error(*run_cli(script, args_for(script, tmp_path / "black.png", files, tmp_path / "o"))[::2])
        assert "black" in line


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_smallest_accepted_image_runs(script, files, tmp_path):
    save_image(tmp_path / "four.png", np.random.default_rng(0).random((4, 5, 3)).astype(np.float32))
    code, out, err = run_cli(script, args_for(script, tmp_path / "four.png", files, tmp_path / "o"))
    assert code == 0, err


@pytest.mark.parametrize("script", SCRIPTS)
def test_huge_image_runs_at_the_capped_resolution_with_full_size_outputs(script, files, tmp_path):
    """12000x9000 in a subprocess, so its peak memory (RSS) can be measured on its own."""
    import subprocess
    import sys
    h, w = 9000, 12000
    yy, xx = np.mgrid[0:h:50, 0:w:50]
    small = np.dstack([np.sin(xx / 700.0), np.cos(yy / 500.0), np.sin((xx + yy) / 900.0)]) * 0.3 + 0.5
    import cv2
    big = cv2.resize((small * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(tmp_path / "huge.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del big
    argv = [f"{script}.py"] + args_for(script, tmp_path / "huge.jpg", files, tmp_path / "o")
    code = (f"import resource, runpy, sys; sys.argv = {argv!r}\n"
            f"try:\n    runpy.run_path('{script}.py', run_name='__main__')\nfinally:\n"
            "    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    peak_gb = int(re.search(r"peak_rss_kb (\d+)", p.stderr).group(1)) / 1e6
    run = Path(p.stdout.strip().splitlines()[-1])
    r = results(run)
    assert r["input_size"] == [w, h]
    result = run / ("mask.png" if script == "segmentation" else "dehazed.png")
    with Image.open(result) as im:
        assert im.size == (w, h)
    assert peak_gb < 6.0, f"peak RSS {peak_gb:.1f} GB"  # the float image alone is 1.3 GB


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG whose header claims w x h pixels (no pixel data): enough to be refused before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("script", SCRIPTS)
def test_image_over_the_pixel_limit_is_one_line_and_exit_2(script, files, tmp_path):
    _png_header_only(tmp_path / "giga.png", 20000, 15000)
    line = one_line_error(*run_cli(script, args_for(script, tmp_path / "giga.png", files, tmp_path / "o"))[::2])
    assert "20000x15000" in line and "downscale" in line


@pytest.mark.parametrize("coarse", ["-0.1", "1.5"])
def test_coarse_share_outside_0_to_1_is_one_line_and_exit_2(coarse, files, tmp_path):
    args = args_for("segmentation", files / "img.png", files, tmp_path / "o") + [f"--coarse={coarse}"]
    line = one_line_error(*run_cli("segmentation", args)[::2], tmp_path / "o")
    assert f"--coarse={float(coarse)}" in line and "from 0 to 1" in line


def test_hint_of_another_size_and_not_binary_is_resized_and_thresholded(files, tmp_path):
    fg = np.zeros((20, 28), np.float32)
    fg[6:14, 8:20] = 0.7  # above 0.5: hint
    fg[0:3, 0:3] = 0.3  # below 0.5: not a hint
    save_image(tmp_path / "fg.png", fg)
    args = args_for("segmentation", files / "img.png", files, tmp_path / "o")
    args[1] = f"--fg_hint={tmp_path / 'fg.png'}"
    code, out, err = run_cli("segmentation", args)
    assert code == 0, err
    used = load_image(Path(out.strip().splitlines()[-1]) / "fg_hint.png")[:, :, 0]
    assert used.shape == (40, 56) and set(np.unique(used)) == {0.0, 1.0}
    assert used[14:26, 18:38].all() and not used[:6, :6].any()


def test_three_layer_truth_with_other_greys_is_one_line_and_exit_2(files, tmp_path):
    truth = np.zeros((40, 56), np.float32)
    truth[:, 20:] = 128 / 255
    truth[:, 40:] = 64 / 255  # a fourth level: not one of 0, 128, 255
    save_image(tmp_path / "t.png", truth)
    for k in ("fg", "mg", "bg"):
        h = np.zeros((40, 56), np.float32)
        h[2:6, {"bg": slice(2, 8), "mg": slice(24, 30), "fg": slice(44, 50)}[k]] = 1
        save_image(tmp_path / f"{k}.png", h)
    args = [f"--input={files / 'img.png'}", "--layers=3", "--method=multi", f"--truth={tmp_path / 't.png'}",
            *[f"--{k}_hint={tmp_path / k}.png" for k in ("fg", "mg", "bg")], f"--output_dir={tmp_path / 'o'}",
            *FAST["segmentation"]]
    line = one_line_error(*run_cli("segmentation", args)[::2], tmp_path / "o")
    assert "grey levels [64]" in line and "[0, 128, 255]" in line
    truth[:, 40:] = 1.0  # the three levels: accepted
    save_image(tmp_path / "t.png", truth)
    code, out, err = run_cli("segmentation", args)
    assert code == 0, err
    assert len(results(Path(out.strip().splitlines()[-1]))["iou_per_label"]) == 3


@pytest.mark.parametrize("arg,expect", [(["--stages=0"], "need at least 1 stage"),
                                        (["--stages=-2"], "need at least 1 stage"),
                                        (["--stages=two"], "expected an integer"),
                                        (["--schedule=adaptive", "--plateau_window=60", "--iters=50"], "cannot stop"),
                                        (["--schedule=adaptive", "--plateau_fraction=0"], "cannot stop"),
                                        (["--iter_factor=0"], "positive factor")])
def test_bad_stage_count_or_a_schedule_that_cannot_stop_is_one_line_and_exit_2(arg, expect, files, tmp_path):
    args = [f"--input={files / 'img.png'}", f"--output_dir={tmp_path / 'o'}", "--progress=false", *arg]
    assert expect in one_line_error(*run_cli("dehazing_system", args)[::2], tmp_path / "o")


@pytest.mark.parametrize("case", ["empty", "overlapping"])
def test_empty_or_overlapping_hints_are_one_line_and_exit_2(case, files, tmp_path):
    m = np.zeros((40, 56), np.float32)
    if case == "overlapping":
        m[:, :] = 1
    save_image(tmp_path / "h.png", m)
    args = args_for("segmentation", files / "img.png", files, tmp_path / "o")
    args[1] = f"--fg_hint={tmp_path / 'h.png'}"
    line = one_line_error(*run_cli("segmentation", args)[::2], tmp_path / "o")
    assert ("empty" in line) if case == "empty" else ("overlap" in line)


def test_gt_of_another_size_is_an_error_and_truth_is_resized(files, tmp_path):
    save_image(tmp_path / "gt.png", np.ones((10, 10, 3), np.float32))
    args = args_for("dehazing_system", files / "img.png", files, tmp_path / "o") + [f"--gt={tmp_path / 'gt.png'}"]
    assert "--gt image is 10x10" in one_line_error(*run_cli("dehazing_system", args)[::2], tmp_path / "o")
    truth = load_image(files / "truth.png")
    save_image(tmp_path / "truth2.png", np.kron(truth, np.ones((2, 2, 1))))  # twice the size
    args = args_for("segmentation", files / "img.png", files, tmp_path / "o") + [f"--truth={tmp_path / 'truth2.png'}"]
    code, out, err = run_cli("segmentation", args)
    assert code == 0, err
    assert results(Path(out.strip().splitlines()[-1]))["iou_fg_hint_only"] > 0.3


@pytest.mark.parametrize("arg,expect", [("--step1_iter=3", "--step1_iters"), ("--iter=3", "--iters"),
                                        ("--seed=abc", "expected an integer"), ("--channels=8", "a list"),
                                        ("--progress=maybe", "true or false"), ("--input", "needs a value")])
@pytest.mark.parametrize("script", SCRIPTS)
def test_unknown_or_malformed_setting_names_the_closest_valid_one(script, arg, expect, tmp_path):
    if (script == "segmentation") != (arg != "--iter=3") and arg in ("--step1_iter=3", "--iter=3"):
        pytest.skip("the close name exists in the other script")
    line = one_line_error(*run_cli(script, [arg, f"--output_dir={tmp_path}"])[::2], tmp_path)
    assert expect in line


@pytest.mark.parametrize("case", ["missing", "empty", "no_frames", "not_a_video", "truncated"])
def test_bad_video_is_one_line_and_exit_2(case, tmp_path):
    from utils.video import write_video
    path = tmp_path / "v.mp4"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "not_a_video":
        path.write_text("this is not a video " * 50)
    elif case in ("no_frames", "truncated"):
        write_video(tmp_path / "ok.mp4", [np.full((32, 48, 3), i / 10, np.float32) for i in range(10)], 10)
        data = (tmp_path / "ok.mp4").read_bytes()
        path.write_bytes(data[:48] if case == "no_frames" else data[: len(data) // 3])
    line = one_line_error(*run_cli("dehazing_system", [f"--video={path}", f"--output_dir={tmp_path / 'o'}"])[::2],
                          tmp_path / "o")
    assert str(path) in line


@pytest.mark.parametrize("case", ["parent_is_a_file", "no_room"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_unwritable_output_or_full_disk_fails_before_optimising(script, case, files, tmp_path, monkeypatch):
    import shutil
    out = tmp_path / "out"
    if case == "parent_is_a_file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "out"
    else:
        monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    import net.dehaze
    import net.segment
    import net.separate
    for module in (net.segment, net.dehaze, net.separate):  # where it is called from (imported there by name)
        monkeypatch.setattr(module, "optimise", lambda *a, **k: pytest.fail("optimised despite the bad output"))
    line = one_line_error(*run_cli(script, args_for(script, files / "img.png", files, out))[::2])
    assert ("cannot write" in line) if case == "parent_is_a_file" else ("not enough free space" in line)


@pytest.mark.parametrize("script", SCRIPTS)
def test_disk_full_while_writing_is_one_line_and_no_partial_file(script, files, tmp_path, monkeypatch):
    import utils.image_io
    real, calls = utils.image_io.cv2.imwrite, []

    def fill_up(path, img, *a):  # the third image written finds the disk full half-way through
        calls.append(path)
        if len(calls) == 3:
            Path(path).write_bytes(b"half an image")
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(path, img, *a)
    monkeypatch.setattr(utils.image_io.cv2, "imwrite", fill_up)
    code, _, err = run_cli(script, args_for(script, files / "img.png", files, tmp_path / "o"))
    assert "No space left on device" in one_line_error(code, err)
    run = next((tmp_path / "o").iterdir())
    leftovers = [p.name for p in run.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    for png in run.glob("*.png"):
        assert load_image(png).size > 0  # every file that exists is complete


@pytest.mark.parametrize("script", SCRIPTS)
def test_non_finite_loss_restores_the_best_state_and_writes_results(script, files, tmp_path, monkeypatch):
    from net import losses
    calls = {"n": 0}
    name = "l1" if script == "segmentation" else "mse"
    real = getattr(losses, name)

    def poisoned(a, b, *k):
        calls["n"] += 1
        out = real(a, b, *k)
        return out * float("nan") if calls["n"] > 12 else out
    monkeypatch.setattr(losses, name, poisoned)
    args = args_for(script, files / "img.png", files, tmp_path / "o")
    args = [a for a in args if "iters" not in a] + (["--step1_iters=20", "--step2_iters=20"]
                                                    if script == "segmentation" else ["--iters=20"])
    code, out, err = run_cli(script, args)
    assert code == 0 and "non-finite loss" in err, err
    r = results(Path(out.strip().splitlines()[-1]))
    stopped = [s["stopped"] for s in (r["steps"].values() if script == "segmentation" else r["stages"])]
    assert "non_finite" in stopped


def test_interrupted_dehazing_writes_its_best_result(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    save_image(tmp_path / "hazy.png", two_texture((40, 56))[0] * 0.6 + 0.3)
    p = subprocess.Popen([sys.executable, "dehazing_system.py", f"--input={tmp_path / 'hazy.png'}", "--iters=100000",
                          f"--output_dir={tmp_path}", "--progress=true"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, seen = time.time() + 60, ""
    while time.time() < deadline and "it/s" not in seen[-200:]:
        seen += p.stderr.read(20) or ""
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 130
    run = next(tmp_path.glob("dehaze1_*"))
    r = results(run)
    assert r["interrupted"] is True and 0 < r["stages"][0]["iterations"] < 100000
    assert (run / "dehazed.png").is_file() and out.strip().splitlines()[-1] == str(run)


@pytest.mark.parametrize("script", SCRIPTS)
def test_debug_flag_shows_the_traceback(script, tmp_path):
    p = run_command([f"{script}.py", f"--input={tmp_path / 'missing.png'}", "--debug"])
    assert p.returncode == 2
    assert "Traceback" in p.stderr and p.stderr.strip().splitlines()[-1].startswith("error: ")


def test_readme_table_lists_exactly_the_situations_tested_here():
    text = (ROOT / "README.md").read_text()
    table = text.split("## What happens when", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| situation")]
    assert rows == list(ROWS)
    names = {m for f in (ROOT / "tests").glob("test_*.py") for m in re.findall(r"^def (test_\w+)", f.read_text(), re.M)}
    for situation, tests in ROWS.items():
        for t in tests:
            assert t in names, f"{situation!r}: no test named {t}"
