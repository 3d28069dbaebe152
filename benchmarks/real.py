"""Real photographs with ground truth, ours against the tools a user would pick instead.

- Dehazing: every RESIDE outdoor pair (real photos with synthetic haze, light and heavy) and O-HAZE pair
  (real haze) in ../shared/realdata/: the hazy input itself, dark-channel-prior dehazing (He et al.,
  benchmarks/baselines.py), ours single-stage and two-stage; PSNR and SSIM against the clean photo at
  full size, wall time.
- Segmentation: every photo of the GrabCut benchmark there, from its lasso trimap (255 sure foreground,
  0/64 sure background, 128 unknown): the hints alone (the unknown band taken as background), the band's
  middle alone (each unknown pixel given to the nearer sure hint: what the trimap's shape says without
  looking at the photo), OpenCV GrabCut from the same trimap (its unknown band started as probable
  foreground and as probable background, the better kept, to be fair to it), ours two-layer; the
  benchmark's error rate (wrong pixels in the unknown band, its unlabelled boundary band left out) and
  foreground IoU; wall time.
- Boxes (`--only=box`): the benchmark's box trimaps, OpenCV GrabCut in its native box mode
  (GC_INIT_WITH_RECT, 10 iterations) against ours from `--box`: error inside the box and IoU.
- Scribbles (`--only=scribbles`): a few strokes drawn from the truth masks (see `scribbles`), GrabCut
  from the same strokes against ours.

The data is third-party: it is read from ../shared/realdata/ and never copied into the project; when it
is absent this script says so and exits with status 0. Our runs are the experiment scripts' main() with
command-line settings, as a user runs them, each in its own folder under output/.

    python benchmarks/real.py                       # everything (a long run on a 2-core CPU)
    python benchmarks/real.py --only=dehazing       # one part: dehazing, segmentation, box or scribbles
    python benchmarks/real.py --cases=0025,person   # cases whose name contains one of these
    python benchmarks/real.py --quick --out=/tmp/r  # smoke version: two cases per part, few iterations
Writes benchmarks/results/real_PART.md for each part (its table, also printed) and its figure grid beside it.
"""
from __future__ import annotations

import argparse
import csv
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
from baselines import dcp_dehaze  # noqa: E402
from quality import figure, run_script  # noqa: E402

from classical.hints import band_prior  # noqa: E402
from utils.device import machine_line  # noqa: E402
from utils.image_io import load_image, save_image  # noqa: E402
from utils.metrics import psnr, ssim  # noqa: E402

REAL = ROOT.parent / "shared" / "realdata"
PARTS = ("dehazing", "segmentation", "box", "scribbles")
QUICK = {"dehaze": ["--iters=10"], "segment": ["--step1_iters=10", "--step2_iters=10", "--hint_iters=5",
                                               "--sharpen_ramp=5"]}


def selected(names: list[str], cases: str) -> list[str]:
    words = [w.strip() for w in cases.split(",") if w.strip()]
    return [n for n in names if not words or any(w in n for w in words)]


# --- dehazing -------------------------------------------------------------------------------------------

def dehazing_pairs() -> list[tuple[str, Path, Path]]:
    """(name, hazy, clean) of every pair in the real data, RESIDE first."""
    pairs = []
    for hazy in sorted((REAL / "reside_outdoor_sample").glob("*_hazy.jpg")):
        pairs.append((f"RESIDE {hazy.stem.replace('_hazy', '').replace('_', ' ')}", hazy,
                      hazy.with_name(hazy.name.replace("_hazy", "_clear"))))
    for hazy in sorted((REAL / "ohaze").glob("*_hazy.jpg")):
        pairs.append((f"O-HAZE {hazy.stem.replace('_outdoor_hazy', '')}", hazy,
                      hazy.with_name(hazy.name.replace("_hazy", "_clear"))))
    return [p for p in pairs if p[2].exists()]


DEHAZE_METHODS = {"ours single-stage": [], "ours two-stage": ["--stages=2"]}


def dehazing(work: Path, common: list[str], extra: list[str], quick: bool, cases: str) -> tuple[list[dict], list]:
    rows, grid = [], []
    pairs = [p for p in dehazing_pairs() if p[0] in selected([q[0] for q in dehazing_pairs()], cases)]
    for name, hazy_path, clean_path in pairs[:2] if quick else pairs:
        hazy, clean = load_image(hazy_path), load_image(clean_path)
        rows.append({"case": name, "method": "hazy input", "psnr": psnr(hazy, clean), "ssim": ssim(hazy, clean),
                     "time": 0.0})
        t = time.perf_counter()
        j_dcp = dcp_dehaze(hazy)[0]
        rows.append({"case": name, "method": "dark channel prior", "psnr": psnr(j_dcp, clean),
                     "ssim": ssim(j_dcp, clean), "time": time.perf_counter() - t})
        panels = [(f"{name}\nhazy", hazy), ("dark channel prior", j_dcp)]
        for method, args in DEHAZE_METHODS.items():
            t = time.perf_counter()
            r = run_script("dehazing_system", [f"--input={hazy_path}", f"--gt={clean_path}", *common, *args,
                                               *(QUICK["dehaze"] if quick else []), *extra])
            wall = time.perf_counter() - t
            rows.append({"case": name, "method": method, "psnr": r["final"]["psnr_gt"], "ssim": r["final"]["ssim_gt"],
                         "time": wall, "run": str(r["run_dir"].relative_to(ROOT))})
            panels.append((method, load_image(r["run_dir"] / "dehazed.png")))
        panels.append(("clean", clean))
        grid.append(panels)
        print(f"{name}: " + ", ".join(f"{r['method']} {r['psnr']:.2f} dB / {r['ssim']:.3f}"
                                      for r in rows if r["case"] == name), flush=True)
    return rows, grid


def dehazing_table(rows: list[dict]) -> list[str]:
    out = ["## Dehazing (PSNR / SSIM against the clean photo, full size)", "",
           "| pair | hazy input | dark channel prior | " + " | ".join(DEHAZE_METHODS) + " | our wall time (s) |",
           "|---|---|---|" + "---|" * len(DEHAZE_METHODS) + "---|"]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    methods = ["hazy input", "dark channel prior", *DEHAZE_METHODS]

    def cell(r: dict) -> str:
        return f"{r['psnr']:.2f} / {r['ssim']:.3f}"
    for case in cases:
        by = {r["method"]: r for r in rows if r["case"] == case}
        times = " / ".join(f"{by[m]['time']:.1f}" for m in DEHAZE_METHODS if m in by)
        out.append(f"| {case} | " + " | ".join(cell(by[m]) if m in by else "-" for m in methods) + f" | {times} |")
    means = {m: (np.mean([r["psnr"] for r in rows if r["method"] == m]), np.mean([r["ssim"] for r in rows
             if r["method"] == m])) for m in methods}
    out.append("| **mean** | " + " | ".join(f"**{p:.2f} / {s:.3f}**" for p, s in means.values()) + " | |")
    out += ["", "Targets (every pair: ours >= DCP and >= the hazy input, in PSNR and SSIM; mean >= DCP + 1.5 dB):", ""]
    for m in DEHAZE_METHODS:
        ok = [c for c in cases if all(_get(rows, c, m)[k] >= _get(rows, c, b)[k] for b in ("dark channel prior",
                                                                                         "hazy input")
                                      for k in ("psnr", "ssim"))]
        gain = means[m][0] - means["dark channel prior"][0]
        out.append(f"- {m}: at least DCP and the hazy input on {len(ok)} of {len(cases)} pairs "
                   f"({'met' if len(ok) == len(cases) else 'NOT met'}; not on: "
                   f"{', '.join(c for c in cases if c not in ok) or 'none'}); mean {gain:+.2f} dB over DCP "
                   f"({'met' if gain >= 1.5 else 'NOT met'})")
    return out


def _get(rows: list[dict], case: str, method: str) -> dict:
    return next(r for r in rows if r["case"] == case and r["method"] == method)


# --- segmentation ---------------------------------------------------------------------------------------

def grabcut_photos() -> list[dict]:
    """The GrabCut benchmark's photos (index.csv rows: name, image, box ...)."""
    path = REAL / "grabcut" / "index.csv"
    if not path.exists():
        return []
    with open(path) as fh:
        return list(csv.DictReader(fh))


def read_grey(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def scores(pred: np.ndarray, truth: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """The benchmark's error rate (%) of `pred` (bool) in `region` (band pixels, truth 128, left out) and the
    foreground IoU over the image without the band."""
    fg, known = truth == 255, truth != 128
    r = region & known
    err = 100.0 * float((pred[r] != fg[r]).mean()) if r.any() else 0.0
    union = ((pred | fg) & known).sum()
    return err, float(((pred & fg) & known).sum() / union) if union else 1.0


def benchmark_photos(cases: str, quick: bool):  # -> Iterator[tuple[dict, Path, np.ndarray, np.ndarray]]
    """The selected GrabCut photos (two with `quick`): (index row, path, RGB uint8 image, truth mask)."""
    photos = [p for p in grabcut_photos() if p["name"] in selected([q["name"] for q in grabcut_photos()], cases)]
    for p in photos[:2] if quick else photos:
        img_path = REAL / "grabcut" / p["image"]
        yield (p, img_path, cv2.cvtColor(cv2.imread(str(img_path)), cv2.COLOR_BGR2RGB),
               read_grey(REAL / "grabcut" / f"{p['name']}_mask.png"))


def grabcut_from_trimap(image: np.ndarray, fg: np.ndarray, bg: np.ndarray, unknown_as: int,
                        iters: int = 10) -> np.ndarray:
    """OpenCV GrabCut (GC_INIT_WITH_MASK) from sure hints, the rest started as `unknown_as`
    (cv2.GC_PR_FGD or cv2.GC_PR_BGD)."""
    cv2.setRNGSeed(0)
    mask = np.full(image.shape[:2], unknown_as, np.uint8)
    mask[bg] = cv2.GC_BGD
    mask[fg] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def segmentation(work: Path, common: list[str], extra: list[str], quick: bool, cases: str) -> tuple[list[dict], list]:
    """Lasso trimaps: hints alone, the band's middle alone, GrabCut, ours."""
    rows, grid = [], []
    for p, img_path, image8, truth in benchmark_photos(cases, quick):
        name = p["name"]
        trimap = read_grey(REAL / "grabcut" / f"{name}_trimap_lasso.png")
        fg, bg, unknown = trimap == 255, (trimap == 0) | (trimap == 64), trimap == 128
        save_image(work / f"{name}_fg.png", fg.astype(np.float32))
        save_image(work / f"{name}_bg.png", bg.astype(np.float32))
        save_image(work / f"{name}_truth.png", (truth == 255).astype(np.float32))
        err, iou = scores(fg, truth, unknown)
        rows.append({"case": name, "method": "hints alone", "error": err, "iou": iou, "time": 0.0})
        err, iou = scores(fg | (band_prior(fg, bg)[0] < 0.5), truth, unknown)  # what the band's shape alone says
        rows.append({"case": name, "method": "band middle alone", "error": err, "iou": iou, "time": 0.0})
        t = time.perf_counter()
        gcs = [grabcut_from_trimap(image8, fg, bg, start) for start in (cv2.GC_PR_FGD, cv2.GC_PR_BGD)]
        gc = min(gcs, key=lambda m: scores(m, truth, unknown)[0])
        err, iou = scores(gc, truth, unknown)
        rows.append({"case": name, "method": "GrabCut", "error": err, "iou": iou, "time": time.perf_counter() - t})
        t = time.perf_counter()
        r = run_script("segmentation", [f"--input={img_path}", f"--fg_hint={work / name}_fg.png",
                                        f"--bg_hint={work / name}_bg.png", f"--truth={work / name}_truth.png",
                                        *common, *(QUICK["segment"] if quick else []), *extra])
        wall = time.perf_counter() - t
        ours = load_image(r["run_dir"] / "mask.png")[:, :, 0] > 0.5
        err, iou = scores(ours, truth, unknown)
        rows.append({"case": name, "method": "ours two-layer", "error": err, "iou": iou, "time": wall,
                     "run": str(r["run_dir"].relative_to(ROOT))})
        grid.append([(f"{name}\nphoto", image8.astype(np.float32) / 255), ("lasso trimap", trimap / 255.0),
                     ("GrabCut", 1.0 - gc), ("ours", 1.0 - ours), ("truth", 1.0 - (truth / 255.0))])
        print(f"{name}: " + ", ".join(f"{x['method']} {x['error']:.2f}% / IoU {x['iou']:.3f}"
                                      for x in rows if x["case"] == name), flush=True)
    return rows, grid


def box_part(work: Path, common: list[str], extra: list[str], quick: bool, cases: str) -> tuple[list[dict], list]:
    """The benchmark's boxes: OpenCV GrabCut in its box mode (GC_INIT_WITH_RECT, 10 iterations) against ours
    from --box; error inside the box (its truth band left out) and foreground IoU."""
    rows, grid = [], []
    for p, img_path, image8, truth in benchmark_photos(cases, quick):
        name = p["name"]
        x0, y0, x1, y1 = (int(p[k]) for k in ("box_x0", "box_y0", "box_x1", "box_y1"))  # inclusive bounds
        inside = np.zeros(truth.shape, bool)
        inside[y0:y1 + 1, x0:x1 + 1] = True
        t = time.perf_counter()
        try:
            cv2.setRNGSeed(0)
            mask = np.zeros(truth.shape, np.uint8)
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            cv2.grabCut(cv2.cvtColor(image8, cv2.COLOR_RGB2BGR), mask, (x0, y0, x1 - x0 + 1, y1 - y0 + 1), bgd, fgd,
                        10, cv2.GC_INIT_WITH_RECT)
            gc = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
            err, iou = scores(gc, truth, inside)
        except cv2.error:  # a box that leaves no background: OpenCV's GrabCut stops with an assertion
            gc, err, iou = np.zeros(truth.shape, bool), float("nan"), float("nan")
        rows.append({"case": name, "method": "GrabCut (box mode)", "error": err, "iou": iou,
                     "time": time.perf_counter() - t})
        t = time.perf_counter()
        r = run_script("segmentation", [f"--input={img_path}", f"--box={x0},{y0},{x1 + 1},{y1 + 1}", "--truth=",
                                        *common, *(QUICK["segment"] if quick else []), *extra])
        ours = load_image(r["run_dir"] / "mask.png")[:, :, 0] > 0.5
        err, iou = scores(ours, truth, inside)
        rows.append({"case": name, "method": "ours two-layer (box)", "error": err, "iou": iou,
                     "time": time.perf_counter() - t, "run": str(r["run_dir"].relative_to(ROOT))})
        box_vis = image8.astype(np.float32) / 255
        cv2.rectangle(box_vis, (x0, y0), (x1, y1), (1.0, 0.2, 0.2), max(2, image8.shape[1] // 200))
        grid.append([(f"{name}\nphoto and box", box_vis), ("GrabCut (box)", 1.0 - gc), ("ours (box)", 1.0 - ours),
                     ("truth", 1.0 - (truth / 255.0))])
        print(f"{name}: " + ", ".join(f"{x['method']} {x['error']:.2f}% / IoU {x['iou']:.3f}"
                                      for x in rows if x["case"] == name), flush=True)
    return rows, grid


def scribbles(truth: np.ndarray, width: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Strokes a person might draw, made from the truth: the skeletons of the foreground and of the
    background, each eroded first by 4% of the image's size (so the strokes keep away from the boundary
    and their small branches vanish), drawn `width` pixels wide."""
    from skimage.morphology import skeletonize
    fg, bg = truth == 255, truth == 0
    r = max(2, round(0.04 * min(truth.shape)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    strokes = []
    for region in (fg, bg):
        core = cv2.erode(region.astype(np.uint8), disk, borderType=cv2.BORDER_CONSTANT, borderValue=1)
        if not core.any():  # a thin region: its skeleton without the erosion
            core = region.astype(np.uint8)
        strokes.append(cv2.dilate(skeletonize(core > 0).astype(np.uint8), pen) > 0)
    strokes[1] &= ~strokes[0]
    return strokes[0], strokes[1]


def scribble_part(work: Path, common: list[str], extra: list[str], quick: bool, cases: str) -> tuple[list[dict], list]:
    """Strokes from the truth (see scribbles): GrabCut from the same strokes (the rest started as probable
    foreground and as probable background, the better kept) against ours; error over the unmarked pixels."""
    rows, grid = [], []
    for p, img_path, image8, truth in benchmark_photos(cases, quick):
        name = p["name"]
        fg, bg = scribbles(truth)
        open_ = ~(fg | bg)
        save_image(work / f"{name}_fg_strokes.png", fg.astype(np.float32))
        save_image(work / f"{name}_bg_strokes.png", bg.astype(np.float32))
        t = time.perf_counter()
        gcs = [grabcut_from_trimap(image8, fg, bg, start) for start in (cv2.GC_PR_FGD, cv2.GC_PR_BGD)]
        gc = min(gcs, key=lambda m: scores(m, truth, open_)[0])
        err, iou = scores(gc, truth, open_)
        rows.append({"case": name, "method": "GrabCut (strokes)", "error": err, "iou": iou,
                     "time": time.perf_counter() - t, "strokes": float((fg | bg).mean())})
        t = time.perf_counter()
        r = run_script("segmentation", [f"--input={img_path}", f"--fg_hint={work / name}_fg_strokes.png",
                                        f"--bg_hint={work / name}_bg_strokes.png", "--truth=", *common,
                                        *(QUICK["segment"] if quick else []), *extra])
        ours = load_image(r["run_dir"] / "mask.png")[:, :, 0] > 0.5
        err, iou = scores(ours, truth, open_)
        rows.append({"case": name, "method": "ours two-layer (strokes)", "error": err, "iou": iou,
                     "time": time.perf_counter() - t, "run": str(r["run_dir"].relative_to(ROOT))})
        shown = image8.astype(np.float32) / 255
        shown[fg], shown[bg] = (1.0, 0.2, 0.2), (0.2, 0.4, 1.0)
        grid.append([(f"{name}\nstrokes (fg red, bg blue)", shown), ("GrabCut", 1.0 - gc), ("ours", 1.0 - ours),
                     ("truth", 1.0 - (truth / 255.0))])
        print(f"{name}: strokes {100 * (fg | bg).mean():.1f}% of the image; " + ", ".join(
            f"{x['method']} {x['error']:.2f}% / IoU {x['iou']:.3f}" for x in rows if x["case"] == name), flush=True)
    return rows, grid


def segmentation_table(rows: list[dict], title: str, ours: str = "ours two-layer", note: str = "") -> list[str]:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cases = list(dict.fromkeys(r["case"] for r in rows))
    out = [f"## {title}", "", *([note, ""] if note else []),
           "| photo | " + " | ".join(f"{m} error % / IoU" for m in methods) + " | our wall time (s) |",
           "|---|" + "---|" * len(methods) + "---|"]
    for case in cases:
        by = {r["method"]: r for r in rows if r["case"] == case}
        out.append(f"| {case} | " + " | ".join(f"{by[m]['error']:.2f} / {by[m]['iou']:.3f}" for m in methods)
                   + f" | {by[ours]['time']:.1f} |")
    mean = {m: (np.nanmean([r["error"] for r in rows if r["method"] == m]),
                np.nanmedian([r["error"] for r in rows if r["method"] == m]),
                np.nanmean([r["iou"] for r in rows if r["method"] == m])) for m in methods}
    out.append("| **mean** | " + " | ".join(f"**{e:.2f} / {i:.3f}**" for e, _, i in mean.values()) + " | |")
    out.append("| median error | " + " | ".join(f"{md:.2f}" for _, md, _ in mean.values()) + " | |")
    gc_name = next(m for m in methods if m.startswith("GrabCut"))
    failed = [c for c in cases if not np.isfinite(_get(rows, c, gc_name)["error"])]
    at_most = sum(not _get(rows, c, ours)["error"] > _get(rows, c, gc_name)["error"] for c in cases)
    out += ["", f"- mean error: {ours} {mean[ours][0]:.2f}%, {gc_name} {mean[gc_name][0]:.2f}% "
            f"({'below: met' if mean[ours][0] < mean[gc_name][0] else 'NOT below: not met'}); {ours} <= {gc_name} on "
            f"{at_most} of {len(cases)} photos ({100 * at_most / max(len(cases), 1):.0f}%)"]
    if failed:
        out.append(f"- {gc_name} gave no result on {', '.join(failed)} (counted as at least as good for ours; left "
                   "out of its mean)")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help=f"comma-separated parts: {', '.join(PARTS)}")
    p.add_argument("--cases", default="", help="only cases whose name contains one of these (comma-separated)")
    p.add_argument("--quick", action="store_true", help="two cases per part, a few iterations (smoke test)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", default="0", help="seed of our runs")
    p.add_argument("--seg_args", default="", help="extra settings for every segmentation run")
    p.add_argument("--dehaze_args", default="", help="extra settings for every dehazing run")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)
    if not REAL.is_dir():
        print(f"the real data is not at {REAL}: nothing to measure (skipped)")
        return 0
    parts = [x for x in a.only.split(",") if x] or list(PARTS)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = ROOT / "output" / f"real_{datetime.now().strftime('%Y%m%d-%H%M%S')}{'_quick' if a.quick else ''}"
    work.mkdir(parents=True, exist_ok=True)
    common = [f"--device={a.device}", "--progress=false", f"--output_dir={work / 'runs'}", f"--seed={a.seed}"]
    suffix = "_quick" if a.quick else ""
    command = f"`python benchmarks/real.py {' '.join(argv if argv is not None else sys.argv[1:])}`".replace(" `", "`")
    seg_parts = {
        "segmentation": (segmentation, "Segmentation from the lasso trimaps (GrabCut benchmark)", "ours two-layer",
                         "Error: wrong pixels in the trimap's unknown band (the truth's boundary band left out)."),
        "box": (box_part, "Segmentation from a box (the benchmark's boxes)", "ours two-layer (box)",
                "Error: wrong pixels inside the box (the truth's boundary band left out)."),
        "scribbles": (scribble_part, "Segmentation from a few strokes (drawn from the truth, see `scribbles`)",
                      "ours two-layer (strokes)", "Error: wrong pixels among those the strokes leave open.")}
    for part in parts:  # each part writes its own real_PART.md and figure: parts can run apart
        start = time.time()
        if part == "dehazing":
            rows, grid = dehazing(work, common, shlex.split(a.dehaze_args), a.quick, a.cases)
            section = dehazing_table(rows) if rows else []
        else:
            fn, title, ours, note = seg_parts[part]
            rows, grid = fn(work, common, shlex.split(a.seg_args), a.quick, a.cases)
            section = segmentation_table(rows, title, ours, note) if rows else []
        if not rows:
            print(f"{part}: no cases selected")
            continue
        name = f"real_{part}{suffix}"
        figure(grid, out / f"{name}.jpg")
        text = "\n".join([f"# Real photographs: {part}{' (quick smoke version)' if a.quick else ''}", "",
                          f"{command}; this part {time.time() - start:.0f} s on {machine_line()}.", "",
                          *section, "", f"![{name}.jpg]({name}.jpg)", ""])
        from utils.atomic import atomic_path
        with atomic_path(out / f"{name}.md") as tmp:
            Path(tmp).write_text(text)
        print(text, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
