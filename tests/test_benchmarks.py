import re

import numpy as np
import pytest
from conftest import PAPER
from helpers import ROOT, run_command


def test_speed_benchmark_quick_prints_every_system_with_speed_ups():
    p = run_command(["benchmarks/speed.py", "--quick"], timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if line.startswith("| two-layer") or line.startswith("| dehazing")]
    assert len(rows) == 3 and all(re.search(r"\d\.\d+ \(\d+\.\d+x\)", r) for r in rows), p.stdout
    assert "as our script runs it" in rows[1] and "interleaved" in p.stdout


def test_quality_benchmark_quick_writes_tables_figures_and_target_lines_over_seeds(tmp_path):
    p = run_command(["benchmarks/quality.py", "--quick", "--seeds=0,1", f"--out={tmp_path}"], timeout=300)
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "quality_quick.md").read_text()
    for method in ("hazy input", "dark channel prior", "ours single-stage", "ours two-stage", "ours adaptive",
                   "GrabCut", "ours two-layer", "ours three-layer system", "ours three-layer multinomial"):
        assert f"| {method}" in text, method
    ours = [line for line in text.splitlines() if line.startswith("| ") and "| ours" in line]
    assert len(ours) == 6 and all(re.search(r"\| \d+\.\d+, \d+\.\d+ \|", line) for line in ours), ours  # both seeds
    assert "mean over seeds 0, 1" in text
    assert re.search(r"(beats|does NOT beat) DCP", text) and "target >= 0.90" in text and "target >= 0.80" in text
    assert (tmp_path / "quality_dehazing.jpg").stat().st_size > 0
    assert (tmp_path / "quality_segmentation.jpg").stat().st_size > 0
    assert not (ROOT / "benchmarks" / "results" / "quality_quick.md").exists(), "the smoke test must not write results"


def test_paper_figures_quick_runs_or_skips_cleanly(tmp_path):
    p = run_command(["benchmarks/paper_figures.py", "--quick", f"--out={tmp_path}"], timeout=300)
    assert p.returncode == 0, p.stderr
    if PAPER.is_dir():
        assert {f.name for f in tmp_path.glob("*.png")} >= {"paper_godzilla_quick.png", "paper_qatar_quick.png"}
    else:
        assert "skipped" in p.stdout


def test_dcp_prior_benchmark_scores_every_case_for_every_omega(tmp_path):
    p = run_command(["benchmarks/dcp_prior.py", f"--out={tmp_path}"], timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [line for line in (tmp_path / "dcp_prior.md").read_text().splitlines() if line.startswith("| beta")]
    assert len(rows) == 4
    for row in rows:
        assert len(re.findall(r"\d+\.\d\d / \d+\.\d\d", row)) == 4, row


def _benchmark(name: str):
    import importlib
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module(name)


def test_interleaved_timing_takes_each_rounds_ratio_so_a_slow_spell_cancels_out():
    speed = _benchmark("speed")
    # the machine is twice as slow in rounds 2 and 3: every variant's time doubles, the ratio does not
    slow = [1, 1, 2, 2, 1]
    rounds = {"ref": iter([0.9] + [0.4 * f for f in slow]), "ours": iter([0.9] + [0.1 * f for f in slow])}
    medians, speedups = speed.interleaved([lambda: next(rounds["ref"]), lambda: next(rounds["ours"])],
                                          rounds=5, warmup=1)  # the warm-up round (0.9 s) is not counted
    assert medians == [0.4, 0.1]
    assert speedups == [1.0, 4.0]


def test_quality_rows_average_the_seeds_and_keep_each_seeds_score():
    quality = _benchmark("quality")
    truth = np.zeros((4, 4), np.uint8)
    truth[:2] = 1  # top half foreground
    exact, half = truth.copy(), truth.copy()
    half[1] = 0  # one of the two foreground rows missed: fg IoU 0.5
    row = quality.seg_row("case", "ours", [exact, half], truth, 2, 1.0)
    assert row["per_seed"] == [1.0, 0.5]
    assert row["iou"][0] == 0.75  # mean foreground IoU, listed first
    assert quality._iterations([[60, 60], [60, 60]]) == "60+60"
    assert quality._iterations([[48, 118], [59, 121]]) == "48+118, 59+121"


def test_a_one_half_quality_run_keeps_the_other_half_of_the_earlier_tables(tmp_path):
    quality = _benchmark("quality")
    md = tmp_path / "quality.md"
    md.write_text("# Quality benchmark\n\nhead\n\n## Dehazing (old)\n\n| old dehazing |\n\n"
                  "## Segmentation (old)\n\n| old segmentation |\n- target line\n\n![a.png](a.png)\n")
    seg = quality.kept_half(md, "segmentation")
    assert seg == "## Segmentation (old)\n\n| old segmentation |\n- target line\n"
    assert quality.kept_half(md, "dehazing") == "## Dehazing (old)\n\n| old dehazing |\n"
    assert quality.kept_half(tmp_path / "none.md", "dehazing") == ""
    new_dehazing = "## Dehazing (new)\n\n| new |\n"
    assert quality.with_kept(new_dehazing, seg, "segmentation") == "## Dehazing (new)\n\n| new |\n\n" + seg
    merged = quality.with_kept("## Segmentation (new)\n", "## Dehazing (old)\n", "dehazing")
    assert merged == "## Dehazing (old)\n\n## Segmentation (new)\n"
    assert quality.with_kept(new_dehazing, "", "segmentation") == new_dehazing


@pytest.mark.parametrize("name", ["real", "photos"])
def test_real_data_benchmarks_skip_with_a_message_without_the_data(name, monkeypatch, capsys):
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    module = importlib.import_module(name)
    monkeypatch.setattr(module, "REAL", ROOT / "no-such-folder")
    if name == "photos":
        monkeypatch.setattr(module, "HAZY", ROOT / "no-such-folder" / "x.jpg")
    assert module.main([]) == 0
    assert "nothing to measure (skipped)" in capsys.readouterr().out


def test_separation_benchmark_quick_scores_ours_and_every_baseline(tmp_path):
    p = run_command(["benchmarks/transparency_watermark.py", "--quick", f"--out={tmp_path}"], timeout=300)
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "separation_quick.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and re.search(r"\d+\.\d\d / \d\.\d{3}", line)]
    two = [r for r in rows if "two mixtures" in r]
    assert two and all(re.search(r"\| [+-]\d+\.\d\d \|", r) for r in rows), text
    assert len([r for r in rows if r.startswith(("| chelsea |", "| coffee |"))]) == 3  # 1 alone, 2 together
    assert (tmp_path / "separation_quick.jpg").stat().st_size > 0
