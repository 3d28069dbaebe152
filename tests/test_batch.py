"""A folder or a glob of photos as input: a run folder each, summary.csv, a bad image skipped."""
import csv
import shutil

import pytest
from helpers import run_cli, run_command, run_script

SEG = ["--step1_iters=5", "--step2_iters=0", "--progress=false"]
DEHAZE = ["--iters=2", "--channels=[8,16]", "--skips=[0,4]", "--progress=false"]


@pytest.fixture
def folder(tiny_files, tmp_path):
    """Two photos with their hints beside them, one with a box instead, and a file that is no image."""
    d = tmp_path / "photos"
    d.mkdir()
    for name in ("a", "b"):
        shutil.copy(tiny_files / "img.png", d / f"{name}.png")
    for kind in ("fg", "bg"):
        shutil.copy(tiny_files / f"{kind}.png", d / f"a_{kind}_hint.png")
    shutil.copy(tiny_files / "truth.png", d / "a_truth.png")
    (d / "b_box.txt").write_text("8,6,48,34")
    (d / "broken.png").write_bytes(b"not a png at all")
    return d


def summary(batch) -> list[dict]:
    with open(batch / "summary.csv") as fh:
        return list(csv.DictReader(fh))


def test_folder_run_skips_a_bad_image_and_writes_a_summary(folder, tmp_path):
    batch = run_script("segmentation", [f"--input={folder}", f"--output_dir={tmp_path / 'o'}", *SEG])
    rows = summary(batch)
    assert [r["image"].split("/")[-1] for r in rows] == ["a.png", "b.png", "broken.png"]  # hint files left out
    assert [r["status"] for r in rows[:2]] == ["ok", "ok"] and rows[2]["status"].startswith("error:")
    assert float(rows[0]["iou_fg"]) > 0 and rows[1]["iou_fg"] == ""  # a's truth found beside it, b has none
    for r in rows[:2]:
        assert (batch / r["run"] / "mask.png").is_file()
    import json
    assert json.loads((batch / rows[1]["run"] / "results.json").read_text())["box"] == [8, 6, 48, 34]


def test_glob_input_runs_the_matching_images_only(folder, tmp_path):
    batch = run_script("dehazing_system", [f"--input={folder}/[ab].png", f"--output_dir={tmp_path / 'o'}", *DEHAZE])
    rows = summary(batch)
    assert [r["image"].split("/")[-1] for r in rows] == ["a.png", "b.png"]
    assert all(r["status"] == "ok" and float(r["omega"]) > 0 for r in rows)
    assert all((batch / r["run"] / "dehazed.png").is_file() for r in rows)


@pytest.mark.parametrize("warm", [False, True])
def test_folder_warm_start_starts_each_photo_from_the_previous_ones_nets(warm, folder, tmp_path, monkeypatch):
    import net.dehaze
    starts, dehaze = [], net.dehaze.dehaze

    def spy(image, s, device, warm=None, **kw):
        starts.append((warm is not None, s.retarget_t))
        return dehaze(image, s, device, warm=warm, **kw)
    monkeypatch.setattr(net.dehaze, "dehaze", spy)
    run_script("dehazing_system", [f"--input={folder}/[ab].png", f"--output_dir={tmp_path / 'o'}",
                                   f"--folder_warm_start={warm}", *DEHAZE])
    # a warm start from another photo shifts t to the new photo's prior (retarget)
    assert starts == ([(False, False), (True, True)] if warm else [(False, False), (False, False)])


@pytest.mark.parametrize("args", [["--fg_hint=x.png"], ["--truth=x.png"]])
def test_one_file_settings_with_a_folder_are_one_line_and_exit_2(args, folder, tmp_path):
    code, _, err = run_cli("segmentation", [f"--input={folder}", *args, f"--output_dir={tmp_path / 'o'}", *SEG])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "beside each image" in err


def test_folder_without_images_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("dehazing_system", [f"--input={tmp_path / 'empty'}", f"--output_dir={tmp_path / 'o'}"])
    assert code == 2 and "no images there" in err and len(err.strip().splitlines()) == 1


def test_torchrun_deals_the_images_out_and_rank_0_writes_one_summary(folder, tmp_path):
    p = run_command(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "dehazing_system.py",
                     f"--input={folder}", f"--output_dir={tmp_path / 'o'}", "--device=cpu", *DEHAZE], timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    (batch,) = (tmp_path / "o").glob("dehaze_batch*")
    rows = summary(batch)
    assert [r["image"].split("/")[-1] for r in rows] == ["a.png", "b.png", "broken.png"]
    assert [r["status"] for r in rows][:2] == ["ok", "ok"]
