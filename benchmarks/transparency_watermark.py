"""Transparency separation and watermark removal against the baselines a user has without us.

- Transparency, cases with known layers: Double-DIP's demo textures (../shared/realdata/doubledip/
  texture12.jpg + texture16.jpg, cropped to a common size) mixed (a + b) / 2, and pairs of scikit-image
  photos mixed with known weights; one mixture and two mixtures. Scores: PSNR/SSIM of each recovered layer
  against its truth (the better assignment of layers); baselines: the mixture itself (for each true layer,
  the closest mixture) and, for two mixtures, FastICA of the two mixtures (scikit-learn, when installed; its
  sources have no scale or sign, so each is given the affine map that fits its truth best: an oracle
  advantage).
- Watermark, a white text mark of opacity 0.5 put on scikit-image photos by our code (the clean photo is
  known), a box around the text as the hint: PSNR/SSIM of the cleaned photo; baselines: the watermarked
  input, OpenCV inpainting (cv2.inpaint, Telea) of the hint box, and the same inpainting of only the mark's
  pixels that our first step finds in the box (utils/watermark.py; the DIPs then do the rest). One photo at
  a time, and the three photos together (one mark shared).
- Double-DIP's demo inputs without truth (input1/input2, the fotolia photos): figures only.

The real data is read from ../shared/realdata/ and never copied; without it those cases are skipped (said
so) and the rest runs. Our runs are separation.py's main() as a user runs it, each in its own folder.

    python benchmarks/transparency_watermark.py                  # everything (about 20 minutes on a 2-core CPU)
    python benchmarks/transparency_watermark.py --quick --out=D  # smoke version: small images, few iterations
    python benchmarks/transparency_watermark.py --only=demo      # one part: transparency, watermark or demo
Writes benchmarks/results/separation.md (the tables, also printed), separation.jpg (the figure grid of
the cases with truth) and separation_doubledip.jpg (Double-DIP's own inputs).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from quality import figure, run_script  # noqa: E402

from utils import synthetic  # noqa: E402
from utils.device import machine_line  # noqa: E402
from utils.image_io import load_image, save_image, to_uint8  # noqa: E402
from utils.metrics import psnr, ssim  # noqa: E402

DOUBLEDIP = ROOT.parent / "shared" / "realdata" / "doubledip"
PHOTO_PAIRS = (("coffee", "astronaut", (0.75, 0.45)), ("chelsea", "rocket", (0.65, 0.35)),
               ("astronaut", "coffee", (0.8, 0.3)))
MARKED = ("chelsea", "coffee", "astronaut")


def ica_layers(mixtures: list[np.ndarray], truth: list[np.ndarray]) -> list[np.ndarray] | None:
    """FastICA's two sources of two mixtures, each mapped affinely onto the true layer it fits best
    (ICA knows neither scale nor sign); None without scikit-learn."""
    try:
        from sklearn.decomposition import FastICA
    except ImportError:
        return None
    x = np.stack([m.ravel() for m in mixtures], 1).astype(np.float64)
    sources = FastICA(2, whiten="unit-variance", random_state=0).fit_transform(x)
    out = []
    for t in truth:  # for each true layer, the source (and affine map) that fits it best
        best = None
        for s in sources.T:
            design = np.stack([s, np.ones_like(s)], 1)
            coef, *_ = np.linalg.lstsq(design, t.ravel(), rcond=None)
            fit = np.clip(design @ coef, 0, 1).reshape(t.shape).astype(np.float32)
            if best is None or psnr(fit, t) > psnr(best, t):
                best = fit
        out.append(best)
    return out


def layer_scores(layers: list[np.ndarray], truth: list[np.ndarray]) -> list[tuple[float, float]]:
    return [(psnr(x, t), ssim(x, t)) for x, t in zip(layers, truth, strict=True)]


def transparency_cases(quick: bool) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """name -> (mixtures, true layers)."""
    shape = (96, 128) if quick else (192, 256)
    cases = {}
    if DOUBLEDIP.is_dir():
        a, b = load_image(DOUBLEDIP / "texture12.jpg"), load_image(DOUBLEDIP / "texture16.jpg")
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        a, b = a[:h, :w], b[:h, :w]
        if quick:
            a, b = cv2.resize(a, (128, 128), interpolation=cv2.INTER_AREA), cv2.resize(b, (128, 128),
                                                                                    interpolation=cv2.INTER_AREA)
        if not quick:  # (the photo pair's one mixture below runs the same code)
            cases["Double-DIP textures, one mixture (a+b)/2"] = ([(a + b) / 2], [a, b])
        cases["Double-DIP textures, two mixtures 0.7/0.4"] = (synthetic.mixtures(a, b, (0.7, 0.4)), [a, b])
    else:
        print(f"the Double-DIP demo inputs are not at {DOUBLEDIP}: their cases are skipped")
    pairs = PHOTO_PAIRS[:1] if quick else PHOTO_PAIRS
    for na, nb, weights in pairs:
        a, b = synthetic.photo(na, shape), synthetic.photo(nb, shape)
        cases[f"{na} + {nb}, two mixtures {weights[0]}/{weights[1]}"] = (synthetic.mixtures(a, b, weights), [a, b])
    a, b = synthetic.photo(pairs[0][0], shape), synthetic.photo(pairs[0][1], shape)
    cases[f"{pairs[0][0]} + {pairs[0][1]}, one mixture 0.6"] = (synthetic.mixtures(a, b, (0.6,)), [a, b])
    return cases


def transparency(work: Path, args: list[str], quick: bool) -> tuple[list[str], list]:
    rows, grid = [], []
    for k, (case, (mixes, truth)) in enumerate(transparency_cases(quick).items()):
        paths = [str(save_image(work / f"t{k}_mix{j}.png", m)) for j, m in enumerate(mixes, 1)]
        gts = [str(save_image(work / f"t{k}_layer{j}.png", t)) for j, t in enumerate(truth, 1)]
        t0 = time.time()
        r = run_script("separation", [f"--input={','.join(paths)}", f"--gt={','.join(gts)}", *args])
        secs = time.time() - t0
        ours = [load_image(Path(r["run_dir"]) / f"layer{j}.png") for j in (1, 2)]
        s = [(r["scores"][f"layer{j}"]["psnr_gt"], r["scores"][f"layer{j}"]["ssim_gt"]) for j in (1, 2)]
        mixture = [(r["scores"][f"layer{j}"]["mixture_psnr_gt"], r["scores"][f"layer{j}"]["mixture_ssim_gt"])
                   for j in (1, 2)]
        ica = ica_layers(mixes, truth) if len(mixes) == 2 else None
        ica_s = layer_scores(ica, truth) if ica is not None else None
        best_base = max(np.mean([p for p, _ in mixture]), np.mean([p for p, _ in ica_s]) if ica_s else -1)
        margin = float(np.mean([p for p, _ in s]) - best_base)
        rows.append(f"| {case} | {cell(mixture)} | {cell(ica_s) if ica_s else 'n/a'} | {cell(s)} | "
                    f"{margin:+.2f} | {r['iterations']} | {secs:.1f} |")
        grid.append([("mixture 1", mixes[0]), ("true layer 1", truth[0]), ("true layer 2", truth[1]),
                     ("ours layer 1", ours[0]), ("ours layer 2", ours[1])]
                    + ([("ICA layer 1", ica[0]), ("ICA layer 2", ica[1])] if ica is not None else []))
    head = ["## Transparency: layers against their truth (PSNR dB / SSIM, layer 1; layer 2)", "",
            "| case | mixture | FastICA (oracle scale) | ours | ours − best baseline (mean dB) | iterations | time s |",
            "|---|---|---|---|---|---|---|"]
    return head + rows, grid


def cell(scores: list[tuple[float, float]]) -> str:
    return "; ".join(f"{p:.2f} / {s:.3f}" for p, s in scores)


def watermark(work: Path, args: list[str], quick: bool) -> tuple[list[str], list]:
    shape = (96, 128) if quick else (192, 256)
    names = MARKED[:2] if quick else MARKED
    coverage = synthetic.watermark_mask(shape)
    hint = synthetic.box_around(coverage)
    hint_path = save_image(work / "mark_hint.png", hint)
    u8 = (hint * 255).astype(np.uint8)
    cleans = {n: synthetic.photo(n, shape) for n in names}
    marked = {n: synthetic.watermarked(c, coverage, 0.5) for n, c in cleans.items()}
    paths = {n: str(save_image(work / f"{n}_marked.png", m)) for n, m in marked.items()}
    gts = {n: str(save_image(work / f"{n}_clean.png", c)) for n, c in cleans.items()}
    rows, grid = [], []
    runs = ([[names[0]]] if quick else [[n] for n in names]) + [list(names)]
    for group in runs:
        t0 = time.time()
        r = run_script("separation", ["--task=watermark", f"--input={','.join(paths[n] for n in group)}",
                                      f"--hint={hint_path}", f"--gt={','.join(gts[n] for n in group)}", *args])
        secs = time.time() - t0
        for n, s in zip(group, r["scores"], strict=True):
            m = to_uint8(marked[n])
            inpainted = cv2.inpaint(m, u8, 5, cv2.INPAINT_TELEA).astype(np.float32) / 255
            inpaint_psnr = psnr(inpainted, cleans[n])
            found = load_image(Path(r["run_dir"]) / "support.png")[:, :, 0] > 0.5  # what our first step found
            strokes = cv2.inpaint(m, found.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA).astype(np.float32) / 255
            base = max(s["input_psnr_gt"], inpaint_psnr, psnr(strokes, cleans[n]))
            rows.append(f"| {n} | {len(group)} | {s['input_psnr_gt']:.2f} / {s['input_ssim_gt']:.3f} "
                        f"| {inpaint_psnr:.2f} / {ssim(inpainted, cleans[n]):.3f} "
                        f"| {psnr(strokes, cleans[n]):.2f} / {ssim(strokes, cleans[n]):.3f} | "
                        f"{s['psnr_gt']:.2f} / {s['ssim_gt']:.3f} | {s['psnr_gt'] - base:+.2f} | "
                        f"{r['iterations']} | {secs:.1f} |")
            ours = load_image(Path(r["run_dir"]) / f"{Path(paths[n]).stem}_clean.png")
            if len(group) == 1 or n == group[0]:
                grid.append([("watermarked", marked[n]), ("cv2.inpaint", inpainted),
                             ("cv2.inpaint, mark found", strokes),
                             (f"ours ({len(group)} image{'s' if len(group) > 1 else ''})", ours), ("clean", cleans[n])])
    head = ["## Watermark: the cleaned photo against the clean one (PSNR dB / SSIM)", "",
            "| photo | images fitted together | watermarked input | cv2.inpaint (Telea) of the hint | cv2.inpaint of "
            "the mark found | ours | ours − best baseline (dB) | iterations | time s |",
            "|---|---|---|---|---|---|---|---|---|"]
    return head + rows, grid


def demo_inputs(args: list[str], quick: bool) -> list:
    """Double-DIP's own inputs without truth: the two real mixtures and the fotolia photos."""
    if not DOUBLEDIP.is_dir() or quick:
        return []
    grid = []
    r = run_script("separation", [f"--input={DOUBLEDIP / 'input1.jpg'},{DOUBLEDIP / 'input2.jpg'}", "--gt=", *args])
    run = Path(r["run_dir"])
    grid.append([(f"input{k}.jpg", load_image(DOUBLEDIP / f"input{k}.jpg")) for k in (1, 2)]
                + [(f"ours layer {k}", load_image(run / f"layer{k}.png")) for k in (1, 2)])
    hint = str(DOUBLEDIP / "fotolia_watermark.png")
    for files in (["fotolia.jpg"], ["fotolia1.jpg", "fotolia2.jpg", "fotolia3.jpg"]):
        r = run_script("separation", ["--task=watermark", f"--input={','.join(str(DOUBLEDIP / f) for f in files)}",
                                      f"--hint={hint}", "--gt=", *args])
        run = Path(r["run_dir"])
        first = Path(files[0]).stem
        ours = f"ours ({len(files)} image{'s' if len(files) > 1 else ''})"
        grid.append([(files[0], load_image(DOUBLEDIP / files[0])), (ours, load_image(run / f"{first}_clean.png")),
                     ("mark × opacity", load_image(run / "mark.png"))])
    return grid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small images, few iterations (a smoke test)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for the table and figure")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default="", help="one part: transparency, watermark or demo (the Double-DIP inputs)")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = ROOT / "output" / f"bench_separation_{datetime.now():%Y%m%d-%H%M%S}"
    work.mkdir(parents=True)
    args = [f"--seed={a.seed}", f"--output_dir={work}", "--progress=false"]
    if a.quick:
        args += ["--iters=12", "--inpaint_iters=6", "--channels=[8,16]", "--skips=[0,4]"]
    start = time.time()
    suffix = "_quick" if a.quick else ""
    if a.only in ("", "demo"):  # Double-DIP's own inputs: a figure of their own
        demo = demo_inputs(args, a.quick)
        if demo:
            figure(demo, out / f"separation_doubledip{suffix}.jpg")
    if a.only == "demo":
        return 0
    t_lines, t_grid = transparency(work, args, a.quick) if a.only in ("", "transparency") else ([], [])
    w_lines, w_grid = watermark(work, args, a.quick) if a.only in ("", "watermark") else ([], [])
    part = f"_{a.only}" if a.only else ""
    lines = [f"# Separation benchmark{' (quick)' if a.quick else ''}", "",
             f"`python benchmarks/transparency_watermark.py {shlex.join(argv if argv is not None else sys.argv[1:])}`; "
             f"{machine_line()}; seed {a.seed}; {time.time() - start:.0f} s in all.", "", *t_lines, "", *w_lines, ""]
    (out / f"separation{part}{suffix}.md").write_text("\n".join(lines))
    figure(t_grid + w_grid, out / f"separation{part}{suffix}.jpg")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
