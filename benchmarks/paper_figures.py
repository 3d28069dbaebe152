"""Reproduce the paper's figures: our systems on the paper's own inputs (../shared/paper/images/), shown
beside the paper's headline figures and its code's outputs (../shared/paper/godzilla.png, qatar.png,
reference-outputs/). That material is third-party: it is read from where it lies, never copied into
the project, and this script exits cleanly (status 0, one line) when it is absent.

    python benchmarks/paper_figures.py                 # default settings (about 8 minutes on a 2-core CPU)
    python benchmarks/paper_figures.py --preset=paper  # the paper's iteration counts
    python benchmarks/paper_figures.py --quick         # a few iterations (smoke test)
Writes benchmarks/results/paper_<figure>.png (each: ours beside the paper's) and the run folders under output/.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from quality import run_script  # noqa: E402

from utils.image_io import load_image, resize  # noqa: E402
from utils.plotting import side_by_side  # noqa: E402

PAPER = ROOT.parent / "shared" / "paper"
QUICK = {"segmentation": ["--step1_iters=10", "--auto_step2_iters=10", "--sharpen_ramp=5"],
         "dehazing_system": ["--iters=10"]}


def figures(out: Path, common: list[str], quick: bool, preset: str, only: str = "") -> list[str]:
    """Each figure: (script, input, settings, panels of ours, the paper's images to show beside them)."""
    seg_preset = [f"--preset={preset}"] if preset else []
    dehaze_preset = ["--preset=paper"] if preset else ["--stages=2"]
    jobs = {
        # Figure 1c is the system of three Double-DIPs (the paper's caption), not the softmax-mask model
        "godzilla": ("segmentation", PAPER / "images/segmentation/godzilla.jpg",
                     ["--layers=3", "--method=system", "--hints=histogram", *seg_preset],
                     ["figure.png"], [PAPER / "godzilla.png"]),
        "godzilla_two_layer": ("segmentation", PAPER / "images/segmentation/godzilla.jpg",
                               ["--hints=histogram", *seg_preset], ["soft_mask.png", "mask.png"],
                               [PAPER / "reference-outputs/godzilla_landing_fb15-28-15_learned_mask.jpg",
                                PAPER / "reference-outputs/godzilla_landing_fb15-28-15_mask.jpg"]),
        "mountain_three_layer": ("segmentation", PAPER / "images/segmentation/fg_mg_bg.jpg",
                                 ["--layers=3", "--method=system", "--hints=histogram", *seg_preset],
                                 ["labels_vis.png"], [PAPER / "reference-outputs/mountain_3dd.jpg"]),
        "qatar": ("dehazing_system", PAPER / "images/dehazing/qatar_0.jpg", [*dehaze_preset],
                  ["figure.png", "stage0_J.png", "stage1_J.png"],
                  [PAPER / "qatar.png", PAPER / "reference-outputs/qatar_15-43-15_1_final.jpg",
                   PAPER / "reference-outputs/qatar_15-43-15_2_final.jpg"]),
    }
    written = []
    for name, (script, image, args, ours, theirs) in jobs.items():
        if only and name not in only.split(","):
            continue
        if not image.exists():
            print(f"skipped {name}: {image} is absent")
            continue
        t = time.time()
        r = run_script(script, [f"--input={image}", *common, *args, *(QUICK[script] if quick else [])])
        panels = [load_image(r["run_dir"] / f) for f in ours] + [load_image(p) for p in theirs if p.exists()]
        titles = [f"ours: {f}" for f in ours] + [f"paper: {p.name}" for p in theirs if p.exists()]
        path = out / f"paper_{name}{'_quick' if quick else ''}.png"
        h = min(p.shape[0] for p in panels)  # one row: every panel at the same height
        panels = [resize(p, (h, max(1, round(p.shape[1] * h / p.shape[0])))) for p in panels]
        side_by_side(panels, titles, path)
        written.append(f"{path.name}: {time.time() - t:.0f} s, run {r['run_dir']}")
        print(written[-1], flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few iterations (smoke test)")
    p.add_argument("--preset", default="", help="paper: the paper's iteration counts")
    p.add_argument("--device", default="auto")
    p.add_argument("--only", default="", help="comma-separated figures: godzilla, godzilla_two_layer, "
                   "mountain_three_layer, qatar")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)
    if not (PAPER / "images").is_dir():
        print(f"the paper's material is not at {PAPER}: nothing to reproduce (skipped)")
        return 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    common = [f"--device={a.device}", "--progress=false", f"--output_dir={ROOT / 'output' / 'paper_figures'}"]
    figures(out, common, a.quick, a.preset, a.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
