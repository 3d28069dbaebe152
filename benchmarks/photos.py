"""End-to-end time and quality on photos of real sizes: about 0.1, 1, 3 and 12 megapixels, ours (the
defaults) beside the same script with its nets off (--dip=false), in one run.

Each run is the script as a user starts it, a fresh process (`python dehazing_system.py --input=...`):
its wall time runs from the process's start to its last file written. Dehazing: O-HAZE scene 35 (real
haze, ../shared/realdata/ohaze/) resized to each size, run without a truth as a user runs it; this script
then scores its dehazed.png (PSNR/SSIM) against the clean photo resized alike, outside the timed run.
Segmentation (two layers): GrabCut benchmark photo 24077 with its lasso trimap as hints, resized alike
(the trimap and truth by nearest neighbour), foreground IoU against the truth. The 12-MP photos are
upscaled (their content is the same; the time is what is measured). With --trimap=loose the segmentation's
hints are a loose lasso made from the truth instead (realdata.loose_trimap: a wide unknown band, 6% of the
diagonal, where the cut has the most pixels to label). Times are also given as the ratio
to the nets-off run of the same photo in this same command (the machines are noisy): what the nets cost.

    python benchmarks/photos.py                 # every size, ours and nets off (about 10 minutes on 2 cores)
    python benchmarks/photos.py --sizes=0.1,12  # some sizes
    python benchmarks/photos.py --quick         # smoke version: 0.1 MP, few iterations
    python benchmarks/photos.py --folder        # a folder of photos: one folder run against one process each
    python benchmarks/photos.py --sizes=12 --scripts=segmentation --trimap=loose   # a wide unknown band

The data is read from ../shared/realdata/ and never copied into the project; without it this script says
so and exits with status 0. Writes benchmarks/results/photos.md (also printed).
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from utils.device import machine_line  # noqa: E402
from utils.image_io import load_image  # noqa: E402

REAL = ROOT.parent / "shared" / "realdata"
HAZY, CLEAN = REAL / "ohaze" / "35_outdoor_hazy.jpg", REAL / "ohaze" / "35_outdoor_clear.jpg"
SEG_PHOTO = "24077"
# the baseline each of our runs is timed against, in the same command: the same script with no net
BASELINE = {"dehazing_system": ["--dip=false"], "segmentation": ["--dip=false"]}
QUICK = {"dehazing_system": ["--iters=3"], "segmentation": ["--step1_iters=3", "--step2_iters=0"]}


def resized(image: np.ndarray, megapixels: float, nearest: bool = False) -> np.ndarray:
    h, w = image.shape[:2]
    f = (megapixels * 1e6 / (h * w)) ** 0.5
    size = (max(8, round(w * f)), max(8, round(h * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA if f < 1
                      else cv2.INTER_CUBIC)


def make_photos(work: Path, megapixels: float, band: str = "lasso") -> dict[str, list[str]]:
    """The inputs at `megapixels`, written under `work`: each script's arguments. `band`: the benchmark's
    lasso trimap, or a loose one made from the truth (a wide unknown band)."""
    tag = f"{megapixels:g}mp"
    hazy, clean = (resized(cv2.imread(str(p)), megapixels) for p in (HAZY, CLEAN))
    cv2.imwrite(str(work / f"hazy_{tag}.jpg"), hazy, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(work / f"clean_{tag}.png"), clean)
    g = REAL / "grabcut"
    photo = resized(cv2.imread(str(g / f"{SEG_PHOTO}.jpg")), megapixels)
    trimap = resized(cv2.imread(str(g / f"{SEG_PHOTO}_trimap_lasso.png"), cv2.IMREAD_GRAYSCALE), megapixels, True)
    truth = resized(cv2.imread(str(g / f"{SEG_PHOTO}_mask.png"), cv2.IMREAD_GRAYSCALE), megapixels, True)
    fg, bg = trimap == 255, trimap <= 64
    if band == "loose":
        from realdata import loose_trimap
        fg, bg = loose_trimap(truth)  # as benchmarks/real.py makes them (the truth's 128: unknown, not background)
    cv2.imwrite(str(work / f"photo_{tag}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(work / f"photo_{tag}_fg.png"), np.where(fg, 255, 0).astype(np.uint8))
    cv2.imwrite(str(work / f"photo_{tag}_bg.png"), np.where(bg, 255, 0).astype(np.uint8))
    cv2.imwrite(str(work / f"photo_{tag}_truth.png"), np.where(truth == 255, 255, 0).astype(np.uint8))
    # no --gt, no --truth: a user's run scores nothing (scikit-image's SSIM of a 12-MP photo alone takes seconds,
    # and a scored run also makes its nets-off control); the benchmark scores the written result against
    # clean_{tag}.png or truth_{tag}.png after the timed run (see quality)
    return {"dehazing_system": [f"--input={work / f'hazy_{tag}.jpg'}", "--gt="],
            "segmentation": [f"--input={work / f'photo_{tag}.jpg'}", f"--fg_hint={work / f'photo_{tag}_fg.png'}",
                             f"--bg_hint={work / f'photo_{tag}_bg.png'}", "--truth="]}


def run(script: str, args: list[str]) -> tuple[float, dict, Path]:
    """The script as a fresh process: (wall seconds, its results.json, its run folder)."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, f"{script}.py", *args], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{script} {' '.join(args)} failed:\n{p.stderr[-2000:]}")
    run_dir = Path(p.stdout.strip().splitlines()[-1])
    return wall, json.loads((run_dir / "results.json").read_text()), run_dir


def quality(results: dict, run_dir: Path, clean: np.ndarray | None, truth: Path | None = None) -> str:
    """Dehazing (`clean` given): PSNR / SSIM of the run's dehazed.png against it; segmentation: the foreground
    IoU of its mask.png against `truth`."""
    if clean is not None:
        from utils.metrics import psnr, ssim
        ours = load_image(run_dir / "dehazed.png")
        return f"{psnr(ours, clean):.2f} / {ssim(ours, clean):.3f}"
    from utils.metrics import iou
    mask = cv2.imread(str(run_dir / "mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    return f"{iou(mask, cv2.imread(str(truth), cv2.IMREAD_GRAYSCALE) > 127):.3f}"


def folder_run(folder: Path, args: list[str]) -> tuple[float, list[dict]]:
    """One folder run as a fresh process: (wall seconds, its summary.csv rows)."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "dehazing_system.py", f"--input={folder}", *args], cwd=ROOT,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"folder run failed:\n{p.stderr[-2000:]}")
    with open(Path(p.stdout.strip().splitlines()[-1]) / "summary.csv", newline="") as fh:
        return wall, list(csv.DictReader(fh))


def folder_throughput(work: Path, common: list[str], quick: bool) -> list[str]:
    """The RESIDE hazy photos (their clean photos beside them, X_gt.png) dehazed as one folder run (one
    process), as one folder run with each photo warm-started from the previous one's nets, and as one
    process per photo: wall time, images per second, mean PSNR / SSIM against the clean photos."""
    photos = sorted((REAL / "reside_outdoor_sample").glob("*_hazy.jpg"))[:2 if quick else None]
    folder = work / "folder"
    folder.mkdir()
    for p in photos:  # links, not copies: the data stays where it is (a JPEG named .png: read by content)
        (folder / p.name).symlink_to(p)
        (folder / f"{p.stem}_gt.png").symlink_to(p.with_name(p.name.replace("_hazy", "_clear")))
    extra = QUICK["dehazing_system"] if quick else []
    rows = []
    for label, more in (("one folder run", []), ("one folder run, warm-started", ["--folder_warm_start=true"])):
        wall, summary = folder_run(folder, [*common, *extra, *more])
        scores = [(float(r["psnr_gt"]), float(r["ssim_gt"])) for r in summary if r["status"] == "ok"]
        rows.append((label, wall, len(scores), *np.mean(scores, axis=0)))
    each, scores = 0.0, []
    for photo in photos:
        t, r, _ = run("dehazing_system", [f"--input={folder / photo.name}", *common, *extra])
        each += t
        scores.append((r["final"]["psnr_gt"], r["final"]["ssim_gt"]))
    rows.append(("one process per photo", each, len(scores), *np.mean(scores, axis=0)))
    base = rows[-1][1]
    return ["## A folder of photos (dehazing)", "",
            f"{len(photos)} RESIDE photos (about 550x410), each scored against its clean photo inside the run.", "",
            "| how | wall time (s) | images/s | throughput vs one process per photo | mean PSNR / SSIM |",
            "|---|---|---|---|---|",
            *[f"| {label} | {wall:.1f} | {n / wall:.3f} | {base / wall:.2f}x | {ps:.2f} / {ss:.3f} |"
              for label, wall, n, ps, ss in rows], ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="0.1,1,3,12", help="megapixels, comma-separated")
    p.add_argument("--scripts", default="dehazing_system,segmentation")
    p.add_argument("--quick", action="store_true", help="0.1 MP and a few iterations (smoke test)")
    p.add_argument("--folder", action="store_true", help="only the folder-run throughput")
    p.add_argument("--trimap", default="lasso", choices=("lasso", "loose"),
                   help="segmentation hints: the benchmark's lasso trimap, or a loose one (a wide band)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "photos.md"))
    a = p.parse_args(argv)
    if not HAZY.exists():
        print(f"the real data is not at {REAL}: nothing to measure (skipped)")
        return 0
    sizes = [0.1] if a.quick else [float(s) for s in a.sizes.split(",")]
    work = ROOT / "output" / f"photos_{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    common = ["--progress=false", f"--output_dir={work / 'runs'}", "--seed=0"]
    title = {"dehazing_system": "Dehazing (PSNR / SSIM against the clean photo)",
             "segmentation": "Segmentation, two layers (foreground IoU)"
             + (", a loose trimap (wide unknown band)" if a.trimap == "loose" else "")}
    lines = [f"# End-to-end time on photos{' (quick)' if a.quick else ''}", "",
             f"`python benchmarks/photos.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
             f"{machine_line()}; each run a fresh process, start to last file written.", ""]
    print("\n".join(lines), flush=True)
    if a.folder:
        lines += folder_throughput(work, common, a.quick)
        out = Path(a.out).with_name("photos_folder.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines))
        print("\n".join(lines))
        return 0
    for script in a.scripts.split(","):
        table = [f"## {title[script]}", "",
                 "| photo | size | ours: time (s) | ours: quality | nets off: time (s) | nets off: quality | "
                 "time ours / nets off |", "|---|---|---|---|---|---|---|"]
        for mp in sizes:
            args = make_photos(work, mp, a.trimap)[script]
            quick = QUICK[script] if a.quick else []
            t_new, r_new, d_new = run(script, [*args, *common, *quick])
            t_old, r_old, d_old = run(script, [*args, *common, *BASELINE[script], *quick])
            w, h = r_new["input_size"]
            clean = load_image(work / f"clean_{mp:g}mp.png") if script == "dehazing_system" else None  # read once
            truth = work / f"photo_{mp:g}mp_truth.png"
            row = (f"| {mp:g} MP | {w}x{h} | {t_new:.1f} | {quality(r_new, d_new, clean, truth)} | {t_old:.1f} | "
                   f"{quality(r_old, d_old, clean, truth)} | {t_new / t_old:.2f} |")
            table.append(row)
            print(row, flush=True)
        lines += [*table, "", f"Nets off: `{' '.join(BASELINE[script])}`.", ""]
    out = Path(a.out if not a.quick or a.out != p.get_default("out") else str(Path(a.out).with_name("photos_quick.md")))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
