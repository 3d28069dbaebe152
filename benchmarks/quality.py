"""Quality against ground truth, ours against the classical tools: dehazing of the Middlebury Motorcycle
rendered with haze from its metric depth (vs dark-channel-prior dehazing) and segmentation of texture
composites with known regions (vs GrabCut). Our methods run exactly as a user runs them: the
experiment scripts' main() with command-line settings, every run in its own folder under output/.
A DIP starts from random weights, so one seed's score carries its luck (about +-0.5 dB in dehazing):
each of our methods runs once per seed (--seeds), the tables give the mean and every seed's score, and
the targets are judged on the means.
Writes benchmarks/results/quality.md (the tables, also printed) and two figure grids beside it.

    python benchmarks/quality.py                      # every case, seeds 0-2 (about 40 minutes, 2-core CPU)
    python benchmarks/quality.py --seeds=0            # one seed (about 15 minutes)
    python benchmarks/quality.py --only=segmentation  # one half (keeps the other half of quality.md)
    python benchmarks/quality.py --quick --out=/tmp/q # smoke version: small images, few iterations
    python benchmarks/quality.py --seg_args="--step2_iters=1200" --device=cuda   # try settings
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from baselines import dcp_dehaze, grabcut, grabcut_layers  # noqa: E402

from utils.image_io import load_image, resize, save_image, working_shape  # noqa: E402
from utils.metrics import iou, psnr, ssim  # noqa: E402
from utils.synthetic import band_hints, composite, hazy_motorcycle  # noqa: E402

GREY, SAND = (0.8, 0.8, 0.8), (0.85, 0.75, 0.60)
DEHAZE_CASES = {"beta 0.1, A 0.8": (0.1, GREY), "beta 0.2, A 0.8": (0.2, GREY), "beta 0.4, A 0.8": (0.4, GREY),
                "beta 0.2, sand A": (0.2, SAND)}
DEHAZE_METHODS = {"nets off (--dip=false)": ["--dip=false"], "ours single-stage": [], "ours two-stage": ["--stages=2"],
                  "ours adaptive": ["--stages=2", "--schedule=adaptive", "--iters=1500"]}
SEG_CASES = {"grass on brick": ("grass", "brick", None), "gravel on grass": ("gravel", "grass", None),
             "brick on gravel": ("brick", "gravel", None), "three regions": ("grass", "brick", "gravel")}
SEG_SHAPE = (224, 288)  # height, width: the composites are 288x224
HINT_DISTANCES = {2: 4, 1: 10, 0: 16}  # each region's hint: the region beyond this many px of the others (a
# band not centred on the edges, as people draw it)
QUICK = {"dehaze": ["--iters=10", "--channels=[8,16,32]", "--skips=[0,0,4]"],
         "adaptive": ["--iters=20", "--plateau_window=5"],
         "segment": ["--step1_iters=10", "--step2_iters=10", "--hint_iters=5", "--sharpen_ramp=5"]}


def run_script(name: str, args: list[str]) -> dict:
    """An experiment script's main() in this process, its printing silenced; returns its results.json
    with the run folder."""
    with contextlib.redirect_stdout(io.StringIO()):
        r = importlib.import_module(name).main(args)
    return {**r.results, "run_dir": r.run_dir}


def selected(cases: dict, only: str) -> dict:
    """The cases whose name contains one of the comma-separated words of `only` (all when empty)."""
    words = [w.strip() for w in only.split(",") if w.strip()]
    return {k: v for k, v in cases.items() if not words or any(w in k for w in words)}


def over_seeds(script: str, args: list[str], seeds: tuple[int, ...]) -> list[dict]:
    """One run of an experiment script per seed."""
    return [run_script(script, [*args, f"--seed={s}"]) for s in seeds]


def dehazing(work: Path, common: list[str], extra: list[str], quick: bool, only: str = "",
             seeds: tuple[int, ...] = (0,)) -> tuple[list[dict], list[list]]:
    rows, grid = [], []
    cases = selected(dict(list(DEHAZE_CASES.items())[:1]) if quick else DEHAZE_CASES, only)
    for case, (beta, airlight) in cases.items():
        hazy, clean, _ = hazy_motorcycle(beta, airlight, 0.25 if quick else 0.5)
        stem = case.replace(", ", "_").replace(" ", "")
        save_image(work / f"{stem}.png", hazy)
        save_image(work / f"{stem}_gt.png", clean)
        hazy, clean = load_image(work / f"{stem}.png"), load_image(work / f"{stem}_gt.png")  # as the scripts see them
        rows.append({"case": case, "method": "hazy input", "psnr": psnr(hazy, clean), "ssim": ssim(hazy, clean),
                     "time": 0.0})
        t = time.perf_counter()
        j_dcp, _, _ = dcp_dehaze(hazy)
        rows.append({"case": case, "method": "dark channel prior", "psnr": psnr(j_dcp, clean),
                     "ssim": ssim(j_dcp, clean), "time": time.perf_counter() - t})
        panels = [("hazy", hazy), ("dark channel prior", j_dcp)]
        for method, args in DEHAZE_METHODS.items():
            args = args + (QUICK["dehaze"] + (QUICK["adaptive"] if "adaptive" in method else []) if quick else [])
            runs = over_seeds("dehazing_system", [f"--input={work / stem}.png", *common, *args, *extra], seeds)
            scores = [(r["final"]["psnr_gt"], r["final"]["ssim_gt"]) for r in runs]
            rows.append({"case": case, "method": method, "psnr": float(np.mean([p for p, _ in scores])),
                         "ssim": float(np.mean([s for _, s in scores])), "per_seed": scores,
                         "time": float(np.mean([r["wall_time_s"] for r in runs])),
                         "iterations": [r["iterations_used"] for r in runs], "runs": [str(r["run_dir"]) for r in runs]})
            panels.append((method, load_image(runs[0]["run_dir"] / "dehazed.png")))  # the first seed's
        panels.append(("truth", clean))
        grid.append([(f"{case}\n{title}" if i == 0 else title, img) for i, (title, img) in enumerate(panels)])
    return rows, grid


def segmentation(work: Path, common: list[str], extra: list[str], quick: bool, only: str = "",
                 seeds: tuple[int, ...] = (0,)) -> tuple[list[dict], list[list]]:
    rows, grid = [], []
    cases = {k: v for k, v in SEG_CASES.items() if k in ("grass on brick", "three regions")} if quick else SEG_CASES
    cases = selected(cases, only)
    shape = (56, 72) if quick else SEG_SHAPE
    for case, (fg_tex, bg_tex, mg_tex) in cases.items():
        img, labels = composite(shape, fg_tex, bg_tex, mg_tex)  # labels 2 fg, 1 mg, 0 bg
        n = 3 if mg_tex else 2
        values = [2, 1, 0] if mg_tex else [2, 0]
        truth = labels if mg_tex else (labels == 2).astype(np.uint8)
        hints = band_hints(labels, values, [HINT_DISTANCES[v] // (2 if quick else 1) for v in values])
        stem = case.replace(" ", "_")
        save_image(work / f"{stem}.png", img)
        names = ["fg", "mg", "bg"] if mg_tex else ["fg", "bg"]
        for name, h in zip(names, hints, strict=True):
            save_image(work / f"{stem}_{name}_hint.png", h)
        save_image(work / f"{stem}_truth.png", truth.astype(np.float32) / (n - 1))
        hint_args = [f"--{name}_hint={work / stem}_{name}_hint.png" for name in names]

        panels = [("image", img), ("truth", truth)]
        t = time.perf_counter()
        gc = grabcut_layers(img, hints) if mg_tex else grabcut(img, hints[0], hints[1]).astype(np.uint8)
        rows.append(seg_row(case, "GrabCut", [gc], truth, n, time.perf_counter() - t))
        panels.append(("GrabCut", gc))
        methods = {"nets off, three-layer system": ["--layers=3", "--method=system", "--dip=false"],
                   "ours three-layer system": ["--layers=3", "--method=system"],
                   "nets off, multinomial": ["--layers=3", "--method=multi", "--dip=false"],
                   "ours three-layer multinomial": ["--layers=3", "--method=multi"]} if mg_tex else \
            {"nets off (--dip=false)": ["--dip=false"], "ours two-layer (Double-DIP)": []}
        for method, args in methods.items():
            runs = over_seeds("segmentation", [f"--input={work / stem}.png", *hint_args,
                                               f"--truth={work / stem}_truth.png", *common, *args,
                                               *(QUICK["segment"] if quick else []), *extra], seeds)
            preds = []
            for r in runs:
                if mg_tex:
                    preds.append(np.rint(load_image(r["run_dir"] / "labels.png")[:, :, 0] * 255).astype(np.uint8))
                else:
                    preds.append((load_image(r["run_dir"] / "mask.png")[:, :, 0] > 0.5).astype(np.uint8))
            raw = [r.get("iou_fg_raw_mask") for r in runs]
            rows.append(seg_row(case, method, preds, truth, n, float(np.mean([r["wall_time_s"] for r in runs])),
                                raw_mask_iou_fg=None if None in raw else float(np.mean(raw)),
                                runs=[str(r["run_dir"]) for r in runs]))
            panels.append((method, preds[0]))  # the first seed's
        shown = [(t, p if p.ndim == 3 else 1.0 - p.astype(np.float32) / (n - 1)) for t, p in panels]  # fg black
        grid.append([(f"{case}\n{t}" if i == 0 else t, p) for i, (t, p) in enumerate(shown)])
    return rows, grid


def seg_row(case: str, method: str, preds: list[np.ndarray], truth: np.ndarray, n: int, seconds: float,
            **more) -> dict:
    """IoU of each region, listed from the foreground back (label 0 = background), averaged over the
    predictions (one per seed); `per_seed` holds each one's score (foreground IoU, or the mean IoU of
    several regions)."""
    ious = np.array([[iou(p == k, truth == k) for k in range(n)][::-1] for p in preds])
    per_seed = [float(x[0]) if n == 2 else float(x.mean()) for x in ious]
    return {"case": case, "method": method, "iou": ious.mean(axis=0).tolist(), "mean": float(ious.mean()),
            "per_seed": per_seed, "time": seconds, **more}


def figure(grid: list[list[tuple[str, np.ndarray]]], path: Path) -> None:
    """Rows of panels (cases) in one JPEG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.atomic import atomic_path
    from utils.plotting import figure_dpi
    cols = max(len(r) for r in grid)
    aspect = float(np.median([img.shape[1] / img.shape[0] for row in grid for _, img in row]))
    fig, axes = plt.subplots(len(grid), cols, figsize=(2.6 * cols * aspect, 2.9 * len(grid)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, panels in enumerate(grid):
        for c, (title, img) in enumerate(panels):  # each panel at its own aspect ratio, inside its cell
            img = resize(img, working_shape(img.shape[:2], 600))  # the grid shows no more
            axes[r, c].imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            axes[r, c].set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:  # at most 2400 px wide, 100 dpi; JPEG: grids of photos, a tenth of a PNG
        fig.savefig(tmp, dpi=figure_dpi(fig.get_size_inches()[0], 100), format="jpg", pil_kwargs={"quality": 85})
    plt.close(fig)


def _iterations(runs: list[list[int]]) -> str:
    """Iterations per stage, once if every seed ran the same, else per seed."""
    text = ["+".join(map(str, it)) for it in runs]
    return (text[0] if len(set(text)) == 1 else ", ".join(text)) if text else "-"


def tables(dehaze_rows: list[dict], seg_rows: list[dict], seeds: tuple[int, ...] = (0,)) -> str:
    out = []
    about = (f"Our methods: mean over seeds {', '.join(map(str, seeds))} (per seed: in that order); wall time per run. "
             "Targets are judged on the means.")
    if dehaze_rows:
        out += ["## Dehazing (PSNR / SSIM against the clean image)", "", about, "",
                "| case | method | PSNR (dB) | SSIM | PSNR per seed | iterations | wall time (s) |",
                "|---|---|---|---|---|---|---|"]
        for r in dehaze_rows:
            each = ", ".join(f"{p:.2f}" for p, _ in r["per_seed"]) if "per_seed" in r else "-"
            out.append(f"| {r['case']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {each} | "
                       f"{_iterations(r.get('iterations', []))} | {r['time']:.1f} |")
        out += [""] + targets_dehazing(dehaze_rows) + [""]
    if seg_rows:
        out += ["## Segmentation (IoU of each region against the truth)", "", about + " Per seed: the foreground "
                "IoU (two layers) or the mean IoU (three regions).", "",
                "| case | method | IoU fg | IoU mg | IoU bg | mean IoU | per seed | raw-mask fg IoU | wall time (s) |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in seg_rows:
            fg, bg = r["iou"][0], r["iou"][-1]
            mg = f"{r['iou'][1]:.3f}" if len(r["iou"]) == 3 else "-"
            raw = f"{r['raw_mask_iou_fg']:.3f}" if r.get("raw_mask_iou_fg") is not None else "-"
            each = ", ".join(f"{x:.3f}" for x in r["per_seed"]) if r["method"] != "GrabCut" else "-"
            out.append(f"| {r['case']} | {r['method']} | {fg:.3f} | {mg} | {bg:.3f} | {r['mean']:.3f} | {each} | "
                       f"{raw} | {r['time']:.1f} |")
        out += [""] + targets_segmentation(seg_rows) + [""]
    return "\n".join(out)


def _by(rows: list[dict], case: str, method: str) -> dict | None:
    return next((r for r in rows if r["case"] == case and r["method"] == method), None)


def targets_dehazing(rows: list[dict]) -> list[str]:
    lines = ["Targets:", ""]
    for case in dict.fromkeys(r["case"] for r in rows):
        dcp, single = _by(rows, case, "dark channel prior"), _by(rows, case, "ours single-stage")
        for method in DEHAZE_METHODS:
            r = _by(rows, case, method)
            beats = r["psnr"] > dcp["psnr"] and r["ssim"] > dcp["ssim"]
            line = (f"- {case}, {method}: {'beats' if beats else 'does NOT beat'} DCP "
                    f"({r['psnr'] - dcp['psnr']:+.2f} dB, SSIM {r['ssim'] - dcp['ssim']:+.3f})")
            if method != "ours single-stage":
                ok = r["psnr"] >= single["psnr"] and r["ssim"] >= single["ssim"]
                worst = min(p for p, _ in r["per_seed"]) - min(p for p, _ in single["per_seed"])
                line += (f"; {'at least' if ok else 'BELOW'} single-stage "
                         f"({r['psnr'] - single['psnr']:+.2f} dB, SSIM {r['ssim'] - single['ssim']:+.3f}; "
                         f"worst seed {worst:+.2f} dB)")
            lines.append(line)
    return lines


def targets_segmentation(rows: list[dict]) -> list[str]:
    lines = ["Targets:", ""]
    for case in dict.fromkeys(r["case"] for r in rows):
        gc = _by(rows, case, "GrabCut")
        for r in rows:
            if r["case"] != case or r["method"] == "GrabCut":
                continue
            three = len(r["iou"]) == 3
            score, gc_score, goal = (r["mean"], gc["mean"], 0.80) if three else (r["iou"][0], gc["iou"][0], 0.90)
            what = "mean IoU" if three else "foreground IoU"
            met = score >= goal and score > gc_score
            lines.append(f"- {case}, {r['method']}: {what} {score:.3f} (target >= {goal:.2f} and above GrabCut's "
                         f"{gc_score:.3f}): {'met' if met else 'NOT met'}")
    return lines


HALVES = {"dehazing": "## Dehazing", "segmentation": "## Segmentation"}  # quality.md's two sections, in order


def kept_half(path: Path, half: str) -> str:
    """The `half` section (tables and target lines) of an earlier quality.md, or "" if it has none: a run
    of one half (--only) keeps the other half's results instead of dropping them."""
    text = path.read_text() if path.exists() else ""
    start = text.find(HALVES[half])
    if start < 0:
        return ""
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\n![", start)) if i >= 0]
    return text[start:min(ends, default=len(text))].strip() + "\n"


def with_kept(body: str, kept: str, half: str) -> str:
    """The new tables `body` with a kept section of the other `half` in its place (dehazing first)."""
    if not kept:
        return body
    return kept + "\n" + body if half == "dehazing" else body.rstrip() + "\n\n" + kept


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small images and few iterations (smoke test)")
    p.add_argument("--only", choices=["dehazing", "segmentation"], help="run one half only")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for quality.md and figures")
    p.add_argument("--cases", default="", help="only cases whose name contains one of these (comma-separated)")
    p.add_argument("--seg_args", default="", help="extra settings for every segmentation run")
    p.add_argument("--dehaze_args", default="", help="extra settings for every dehazing run")
    p.add_argument("--seeds", default="", help="seeds of our methods' runs, comma-separated (default 0,1,2; "
                   "0 with --quick)")
    a = p.parse_args(argv)
    try:
        seeds = tuple(int(x) for x in (a.seeds or ("0" if a.quick else "0,1,2")).split(","))
    except ValueError:
        p.error(f"--seeds={a.seeds}: give whole numbers separated by commas, e.g. --seeds=0,1,2")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    work = ROOT / "output" / f"quality_{stamp}{'_quick' if a.quick else ''}"
    work.mkdir(parents=True, exist_ok=True)
    common = [f"--device={a.device}", "--progress=false", f"--output_dir={work / 'runs'}"]
    start = time.time()
    dehaze_rows, seg_rows, figures = [], [], []
    if a.only in (None, "dehazing"):
        dehaze_rows, grid = dehazing(work, common, shlex.split(a.dehaze_args), a.quick, a.cases, seeds)
        if grid:
            figure(grid, out / "quality_dehazing.jpg")
            figures.append("quality_dehazing.jpg")
    if a.only in (None, "segmentation"):
        seg_rows, grid = segmentation(work, common, shlex.split(a.seg_args), a.quick, a.cases, seeds)
        if grid:
            figure(grid, out / "quality_segmentation.jpg")
            figures.append("quality_segmentation.jpg")
    md = out / ("quality_quick.md" if a.quick else "quality.md")
    other = {"dehazing": "segmentation", "segmentation": "dehazing"}.get(a.only or "")
    kept = kept_half(md, other) if other else ""
    if kept and (out / f"quality_{other}.jpg").exists():
        figures = sorted(figures + [f"quality_{other}.jpg"])  # dehazing's grid first
    import platform

    import torch

    from utils.device import pick_device
    device = pick_device(a.device)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    head = [f"# Quality benchmark{' (quick smoke version)' if a.quick else ''}", "",
            f"`python benchmarks/quality.py {' '.join(argv if argv is not None else sys.argv[1:])}`".replace(" `", "`"),
            f"on {machine}, torch {torch.__version__}; {time.time() - start:.0f} s in all. "
            f"Runs: `{work.relative_to(ROOT)}`.", "",
            "Dehazing: Middlebury Motorcycle (scikit-image) x0.5 with haze from its metric depth, "
            "t = exp(-beta Z), I = J t + A (1 - t). Segmentation: scikit-image textures in the horse "
            f"silhouette, {SEG_SHAPE[1]}x{SEG_SHAPE[0]}, hints = each true region beyond 4 px (foreground), 10 px "
            "(middle ground) and 16 px (background) of the others: bands not centred on the edges (the same for "
            "every method).", "", ""]
    if kept:
        head[-2:-2] = ["", f"The {other} half is kept from this file's previous version: this run (--only={a.only}) "
                       "did not redo it."]
    text = "\n".join(head) + with_kept(tables(dehaze_rows, seg_rows, seeds), kept, other) + "\n" + \
        "".join(f"\n![{f}]({f})\n" for f in figures)
    from utils.atomic import atomic_path
    with atomic_path(md) as tmp:
        Path(tmp).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
