"""Checkpoints and --resume: a resumed seeded CPU run gives exactly the uninterrupted run's result."""
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import PINNED, ROOT, results, run_cli, run_script

from utils import checkpoint
from utils.image_io import load_image


@pytest.fixture
def small(tiny_files):
    return tiny_files


@pytest.fixture
def snapshots(monkeypatch, tmp_path):
    """Copy checkpoint.pt after every save, named call_nextiteration_done.pt, as a crash would leave it."""
    out = tmp_path / "snapshots"
    out.mkdir()
    save = checkpoint.Checkpoint.save

    def save_and_copy(self, record):
        save(self, record)
        shutil.copy(self.path, out / f"{self.call}_{record['state']['next']}_{int(record['done'])}.pt")
    monkeypatch.setattr(checkpoint.Checkpoint, "save", save_and_copy)
    return out


def crashed_run(run: Path, snapshot: Path, dest: Path) -> Path:
    """A run folder as a crash at that snapshot would have left it."""
    dest.mkdir()
    shutil.copy(run / checkpoint.META, dest / checkpoint.META)
    shutil.copy(snapshot, dest / checkpoint.FILE)
    return dest


def same_result(a, b, images):
    ra, rb = results(a), results(b)
    for name in images:
        assert np.array_equal(load_image(a / name), load_image(b / name)), name
    return ra, rb


def test_segmentation_resumed_mid_step_matches_the_uninterrupted_run(small, snapshots, tmp_path):
    args = [f"--input={small / 'img.png'}", f"--fg_hint={small / 'fg.png'}", f"--bg_hint={small / 'bg.png'}",
            "--step1_iters=20", "--step2_iters=30", "--hint_iters=10", "--sharpen_ramp=10", "--progress=false",
            f"--output_dir={tmp_path / 'out'}", *PINNED]
    full = run_script("segmentation", [*args, "--checkpoint_every=10"])
    saved = sorted(p.name for p in snapshots.iterdir())
    # step 1 (call 0) at 10 and done at 20; step 2 (call 1) at 10, 20 and done at 30
    assert saved == ["0_10_0.pt", "0_20_1.pt", "1_10_0.pt", "1_20_0.pt", "1_30_1.pt"]
    crash = crashed_run(full, snapshots / "1_20_0.pt", tmp_path / "crash")
    resumed = run_script("segmentation", [f"--resume={crash}", f"--output_dir={tmp_path / 'out'}"])
    ra, rb = same_result(full, resumed, ["soft_mask.png", "mask.png", "fg_layer.png", "bg_layer.png"])
    assert ra["steps"] == rb["steps"]  # iterations, best PSNR (exact float) and best iteration
    assert rb["resumed_from"] == str(crash) and rb["config"]["step2_iters"] == 30


def test_coarse_to_fine_segmentation_resumed_in_its_fine_part_matches_the_uninterrupted_run(small, snapshots,
                                                                                           tmp_path):
    args = [f"--input={small / 'img.png'}", f"--fg_hint={small / 'fg.png'}", f"--bg_hint={small / 'bg.png'}",
            "--step1_iters=10", "--step2_iters=30", "--hint_iters=10", "--sharpen_ramp=10", "--coarse=0.5",
            "--progress=false", f"--output_dir={tmp_path / 'out'}", *PINNED]
    full = run_script("segmentation", [*args, "--checkpoint_every=5"])
    saved = sorted(p.name for p in snapshots.iterdir())
    # calls: step 1 coarse (5 it), step 1 (5), step 2 coarse (15), step 2 (15)
    assert saved == ["0_5_1.pt", "1_5_1.pt", "2_10_0.pt", "2_15_1.pt", "2_5_0.pt", "3_10_0.pt", "3_15_1.pt",
                     "3_5_0.pt"]
    crash = crashed_run(full, snapshots / "3_10_0.pt", tmp_path / "crash")
    resumed = run_script("segmentation", [f"--resume={crash}", f"--output_dir={tmp_path / 'out'}"])
    ra, rb = same_result(full, resumed, ["soft_mask.png", "mask.png", "fg_layer.png", "bg_layer.png"])
    assert ra["steps"] == rb["steps"] and set(ra["steps"]) == {"step1_coarse", "step1", "step2_coarse", "step2"}


def test_dehazing_resumed_in_its_second_stage_matches_the_uninterrupted_run(small, snapshots, tmp_path):
    args = [f"--input={small / 'hazy.png'}", "--stages=2", "--iters=12", "--iter_factor=1", "--channels=[8,16]",
            "--skips=[0,4]", "--progress=false", f"--output_dir={tmp_path / 'out'}", "--checkpoint_every=5", *PINNED]
    full = run_script("dehazing_system", args)
    crash = crashed_run(full, snapshots / "1_5_0.pt", tmp_path / "crash")
    resumed = run_script("dehazing_system", [f"--resume={crash}", f"--output_dir={tmp_path / 'out'}"])
    ra, rb = same_result(full, resumed, ["stage0_J.png", "stage1_J.png", "stage1_t.png", "dehazed.png"])
    for a, b in zip(ra["stages"], rb["stages"], strict=True):
        assert (a["iterations"], a["reconstruction_psnr"]) == (b["iterations"], b["reconstruction_psnr"])


def test_ctrl_c_saves_a_checkpoint_that_resumes_to_the_uninterrupted_result(small, tmp_path):
    args = [f"--input={small / 'img.png'}", f"--fg_hint={small / 'fg.png'}", f"--bg_hint={small / 'bg.png'}",
            "--step1_iters=10", "--step2_iters=300", "--hint_iters=10", "--sharpen_ramp=10",
            "--checkpoint_every=100000", "--threads=1"]  # no periodic save before the interrupt: Ctrl-C saves;
    # one thread in every run: results depend on the thread count, which a busy machine would change between runs
    p = subprocess.Popen([sys.executable, "segmentation.py", *args, f"--output_dir={tmp_path / 'a'}",
                          "--progress=true"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, seen = time.time() + 60, ""
    while time.time() < deadline and "step 2" not in seen[-400:]:
        seen += p.stderr.read(50) or ""
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode == 130
    run = next((tmp_path / "a").glob("seg2_*"))
    assert results(run)["interrupted"] is True and results(run)["steps"]["step2"]["iterations"] < 300
    resumed = run_script("segmentation", [f"--resume={run}", f"--output_dir={tmp_path / 'b'}", "--progress=false"])
    full = run_script("segmentation", [*args, "--progress=false", f"--output_dir={tmp_path / 'c'}"])
    ra, rb = same_result(full, resumed, ["soft_mask.png", "mask.png"])
    assert ra["steps"] == rb["steps"] and rb["interrupted"] is False


@pytest.fixture(scope="module")
def checkpointed(tiny_files, tmp_path_factory):
    """A real checkpointed segmentation run (10 iterations, saved every 5)."""
    out = tmp_path_factory.mktemp("checkpointed")
    return run_script("segmentation", [f"--input={tiny_files / 'img.png'}", f"--fg_hint={tiny_files / 'fg.png'}",
                                       f"--bg_hint={tiny_files / 'bg.png'}", "--step1_iters=10", "--checkpoint_every=5",
                                       "--progress=false", f"--output_dir={out}"])


@pytest.mark.parametrize("case, message", [
    ("no_checkpoint", "no checkpoint.pt there"),
    ("changed_setting", "--step1_iters cannot change when resuming (the run used 10)"),
    ("other_script", "is a run of segmentation.py; resume it with that script"),
    ("damaged", "cannot read checkpoint.pt")], ids=["no_checkpoint", "changed_setting", "other_script", "damaged"])
def test_bad_resume_gives_its_own_one_line_and_exit_2(case, message, checkpointed, tmp_path):
    """Each refusal on a real checkpoint (only the damaged case breaks its file), with its own message."""
    run = tmp_path / "run"
    shutil.copytree(checkpointed, run)
    assert (run / checkpoint.FILE).is_file() and (run / checkpoint.META).is_file()
    script, extra = "segmentation", []
    if case == "no_checkpoint":
        (run / checkpoint.FILE).unlink()
    elif case == "changed_setting":
        extra = ["--step1_iters=30"]
    elif case == "other_script":
        script = "dehazing_system"
    else:
        (run / checkpoint.FILE).write_bytes(b"not a checkpoint")
    code, _, err = run_cli(script, [f"--resume={run}", f"--output_dir={tmp_path / 'out'}", *extra])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "out").exists(), "no run folder for a bad resume"


def test_a_real_checkpoint_resumes_with_an_allowed_change(checkpointed, tmp_path):
    """The control for the refusals above: the same checkpoint resumes when nothing that matters changes."""
    code, out, err = run_cli("segmentation", [f"--resume={checkpointed}", f"--output_dir={tmp_path / 'out'}",
                                              "--progress=false"])
    assert code == 0, err
    assert results(tmp_path / "out" / out.strip().splitlines()[-1].split("/")[-1])["resumed_from"] == str(checkpointed)
