"""Real photographs with ground truth: ours beside its controls, on the dev half (settings are chosen on
it) and on the test half (results are reported from it) of every set in ../shared/realdata/
(benchmarks/realdata.py holds the split and the hints made from each truth).

Every table has the same columns: the input alone (the hazy photo; the hints taken as the answer), the
band's middle alone where the hints leave a band (each open pixel to the nearer hint: what the band's
shape says without the photo), the classical peer (dark-channel-prior dehazing with He et al.'s
settings; OpenCV GrabCut from the same hints), **nets off** (ours with --dip=false: the same pipeline with
no net built or trained), ours, and our wall time; then a line of means and of how many photos ours
beats each column on.

- dehazing: RESIDE outdoor, O-HAZE, HSTS, SOTS outdoor and HazeRD pairs; PSNR / SSIM against the clean
  photo at full size.
- nogt: the real hazy photos without truth, as a figure (input, DCP, nets off, ours) and three checks
  that need no truth: pixels newly clipped to black or white, pixels newly saturated, and the colour
  cast (the shift of the image's mean colour in CIELAB a*b*).
- segmentation: GrabCut benchmark, Berkeley and COCO-MVal objects, from every kind of hint in `--hints`:
  lasso (the GrabCut benchmark's own trimaps), gcbox (its own boxes), box (3% margin), centred (a band of
  2% of the diagonal either side of the edge), loose (the object eroded by 1% of the diagonal, the
  background beyond 5%), strokes; the benchmark's error rate over the pixels the hints leave open (inside
  the box for a box), and foreground IoU. GrabCut from a mask is started with the open pixels as probable
  foreground and as probable background and the better start kept, which looks at the truth (an
  advantage ours does not get); from a box it runs in its box mode (GC_INIT_WITH_RECT, 10 iterations).

The data is third-party: read from ../shared/realdata/, never copied; when it is absent this script says
so and exits with status 0. Our runs are the experiment scripts' main() with command-line settings, as a
user runs them, each in its own folder under output/.

    python benchmarks/real.py                                   # everything, both halves (hours on 2 cores)
    python benchmarks/real.py --only=dehazing --half=dev        # one part, one half
    python benchmarks/real.py --only=segmentation --sets=Berkeley --hints=loose,box
    python benchmarks/real.py --quick --out=/tmp/r              # smoke version: two cases per table
Writes benchmarks/results/real_PART_HALF.md (its tables, also printed) and a figure beside each.
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
import fog  # noqa: E402
import realdata  # noqa: E402
from quality import figure, run_script  # noqa: E402
from realdata import REAL, HazyPair, Photo, band_middle, read_grey, read_rgb, scores  # noqa: E402

from classical.haze import dcp_dehaze  # noqa: E402
from utils.device import machine_line  # noqa: E402
from utils.image_io import load_image, save_image  # noqa: E402
from utils.metrics import psnr, ssim  # noqa: E402

PARTS = ("dehazing", "nogt", "segmentation", "three_layers")
SEG_SETS = ("GrabCut", "Berkeley", "COCO-MVal")
HINT_KINDS = ("lasso", "gcbox", "box", "centred", "loose", "strokes")
GRABCUT_ONLY = ("lasso", "gcbox")  # the GrabCut benchmark's own hints
BANDS = ("lasso", "centred", "loose")  # hints that leave a band around the edge
BOXES = ("gcbox", "box")
QUICK = {"dehaze": ["--iters=5"], "segment": ["--step1_iters=5", "--step2_iters=0"]}
FIGURE_ROWS = 8  # cases shown in a table's figure
NETS_OFF = "nets off"
OURS = "ours"


def nanmean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _wins(rows: list[dict], cases: list[str], method: str, key: str, lower: bool) -> int:
    """On how many cases ours is strictly better than `method` by `key`."""
    n = 0
    for c in cases:
        ours, other = _get(rows, c, OURS)[key], _get(rows, c, method)[key]
        if np.isfinite(ours) and (not np.isfinite(other) or (ours < other if lower else ours > other)):
            n += 1
    return n


def _get(rows: list[dict], case: str, method: str) -> dict:
    return next(r for r in rows if r["case"] == case and r["method"] == method)


# --- dehazing ----------------------------------------------------------------------------------------------

DEHAZE_COLUMNS = ("hazy input", "DCP (He et al.)", NETS_OFF, OURS)
DENSE_FIGURE_ROWS = 6  # the densest pairs shown in their own figure


def dehaze_rows(pairs: list[HazyPair], work: Path, common: list[str], extra: list[str], quick: bool
                ) -> tuple[list[dict], list]:
    """Every column's PSNR / SSIM, fog left (FADE) and noise on each pair (with the clean photo's FADE and the
    pair's haze group), and a figure row per pair."""
    rows, grid = [], []
    for pair in pairs:
        hazy, clean = load_image(pair.hazy), load_image(pair.clean)
        group, clean_fade = fog.haze_group(psnr(hazy, clean)), fog.fade(clean)
        base = {"case": pair.name, "group": group, "clean_fade": clean_fade}

        def row(method: str, j: np.ndarray, seconds: float, clean: np.ndarray = clean, base: dict = base,
                **more) -> dict:
            return {**base, "method": method, "psnr": psnr(j, clean), "ssim": ssim(j, clean), "fade": fog.fade(j),
                    "noise": fog.noise(j), "time": seconds, **more}
        rows.append(row("hazy input", hazy, 0.0))
        t = time.perf_counter()
        j_dcp = dcp_dehaze(hazy)[0]
        rows.append(row("DCP (He et al.)", j_dcp, time.perf_counter() - t))
        panels = [(f"{pair.name}\nhazy", hazy), ("DCP", j_dcp)]
        for method, args in ((NETS_OFF, ["--dip=false"]), (OURS, [])):
            t = time.perf_counter()
            r = run_script("dehazing_system", [f"--input={pair.hazy}", "--gt=", *common, *args,
                                               *(QUICK["dehaze"] if quick else []), *extra])
            j = load_image(r["run_dir"] / "dehazed.png")
            rows.append(row(method, j, time.perf_counter() - t, run=str(r["run_dir"]), omega=r["omega"]))
            panels.append((method, j))
        grid.append(panels + [("clean", clean)])
        print(f"{pair.name} ({group}): " + ", ".join(f"{x['method']} {x['psnr']:.2f} / {x['ssim']:.3f} / FADE "
                                                     f"{x['fade']:.2f}" for x in rows if x["case"] == pair.name)
              + f", clean FADE {clean_fade:.2f}", flush=True)
    return rows, grid


def densest(rows: list[dict], grid: list, n: int = DENSE_FIGURE_ROWS) -> list:
    """The figure rows (one per pair, in the rows' order) of the `n` pairs whose hazy input is furthest from
    its truth."""
    cases = list(dict.fromkeys(r["case"] for r in rows))
    order = sorted(range(len(cases)), key=lambda k: _get(rows, cases[k], "hazy input")["psnr"])
    return [grid[k] for k in order[:n]]


def _cell(r: dict) -> str:
    return f"{r['psnr']:.2f} / {r['ssim']:.3f} / {r['fade']:.2f}"


def dehaze_table(rows: list[dict], title: str) -> list[str]:
    """Per haze group: each pair's PSNR / SSIM / FADE in every column beside the truth's FADE, the group's means
    and the dense-haze targets; then the means over every pair."""
    cases = list(dict.fromkeys(r["case"] for r in rows))
    dcp = "DCP (He et al.)"
    out = [f"## {title}", "",
           "PSNR (dB) / SSIM / FADE (fog left, lower = less; fade-python) against the clean photo at full size, "
           "the clean photo's own FADE beside them; noise: scikit-image's estimate of the result's noise sigma "
           "(x1000) with the nets off / on; time: nets off / ours, s. Groups by the hazy input's PSNR: dense "
           "below 13 dB, light above 18 dB.", ""]
    for group, _, _ in fog.GROUPS:
        gc = [c for c in cases if _get(rows, c, OURS)["group"] == group]
        if not gc:
            continue
        n = len(gc)
        out += [f"### {group.capitalize()} haze: {n} pair{'s' if n > 1 else ''}", "",
                "| pair | " + " | ".join(f"**{m}**" if m == NETS_OFF else m for m in DEHAZE_COLUMNS)
                + " | clean FADE | noise off / ours | time (s) |", "|---|" + "---|" * (len(DEHAZE_COLUMNS) + 3)]
        for case in gc:
            by = {m: _get(rows, case, m) for m in DEHAZE_COLUMNS}
            out.append(f"| {case} | " + " | ".join(_cell(by[m]) for m in DEHAZE_COLUMNS)
                       + f" | {by[OURS]['clean_fade']:.2f} | {1000 * by[NETS_OFF]['noise']:.1f} / "
                         f"{1000 * by[OURS]['noise']:.1f} | {by[NETS_OFF]['time']:.1f} / {by[OURS]['time']:.1f} |")
        mean = {m: {k: nanmean([_get(rows, c, m)[k] for c in gc]) for k in ("psnr", "ssim", "fade")}
                for m in DEHAZE_COLUMNS}
        out.append("| **mean** | " + " | ".join(f"**{_cell(mean[m])}**" for m in DEHAZE_COLUMNS)
                   + f" | {nanmean([_get(rows, c, OURS)['clean_fade'] for c in gc]):.2f} | | |")
        ratio = {m: float(np.median([fog.fog_ratio(_get(rows, c, m)["fade"], _get(rows, c, m)["clean_fade"])
                                     for c in gc])) for m in (dcp, NETS_OFF, OURS)}
        ahead = max(_get(rows, c, dcp)["psnr"] - _get(rows, c, OURS)["psnr"] for c in gc)
        below = sum(_get(rows, c, OURS)["psnr"] < _get(rows, c, "hazy input")["psnr"]
                    or _get(rows, c, OURS)["ssim"] < _get(rows, c, "hazy input")["ssim"] for c in gc)
        quieter = sum(_get(rows, c, OURS)["noise"] < _get(rows, c, NETS_OFF)["noise"] for c in gc)
        share = mean[OURS]["psnr"] - mean[NETS_OFF]["psnr"]
        out += ["", f"- Ours minus DCP {mean[OURS]['psnr'] - mean[dcp]['psnr']:+.2f} dB (DCP ahead by at most "
                    f"{ahead:+.2f} dB on a pair); the nets' share (ours - nets off) {share:+.2f} dB, ours above nets "
                    f"off on {_wins(rows, gc, NETS_OFF, 'psnr', False)} of {n}; ours below the hazy input in PSNR or "
                    f"SSIM on {below} of {n}.",
                f"- Fog left like the truth's: median |ln(FADE / FADE clean)| DCP {ratio[dcp]:.2f}, nets off "
                f"{ratio[NETS_OFF]:.2f}, ours {ratio[OURS]:.2f}; less noise than nets off on {quieter} of {n} "
                f"(mean sigma x1000: {1000 * nanmean([_get(rows, c, NETS_OFF)['noise'] for c in gc]):.2f} / "
                f"{1000 * nanmean([_get(rows, c, OURS)['noise'] for c in gc]):.2f})."]
        if group == "dense":

            def held(ok: bool) -> str:
                return "met" if ok else "**not met**"
            out += [f"- Targets (dense): ours at least DCP + 1.0 dB: "
                    f"{held(mean[OURS]['psnr'] >= mean[dcp]['psnr'] + 1)}; no pair with DCP ahead by more than 2 "
                    f"dB: {held(ahead <= 2)}; median |ln FADE ratio| at most 0.3: {held(ratio[OURS] <= 0.3)}; "
                    f"nets at least nets off + 0.3 dB: {held(share >= 0.3)}; less "
                    f"noise than nets off: {held(quieter == n)}; never below the hazy input: {held(below == 0)}."]
        out.append("")
    mean = {m: (nanmean([_get(rows, c, m)["psnr"] for c in cases]), nanmean([_get(rows, c, m)["ssim"] for c in cases]))
            for m in DEHAZE_COLUMNS}
    n = len(cases)
    beats = ", ".join(f"{m} {_wins(rows, cases, m, 'psnr', False)}" for m in DEHAZE_COLUMNS[:-1])
    never_worse = sum(_get(rows, c, OURS)["psnr"] >= _get(rows, c, "hazy input")["psnr"]
                      and _get(rows, c, OURS)["ssim"] >= _get(rows, c, "hazy input")["ssim"] for c in cases)
    means = ", ".join(f"{m} {p:.2f} / {s:.3f}" for m, (p, s) in mean.items())
    out += [f"### All {n} pairs", "",
            f"- Means (PSNR / SSIM): {means}. Ours has the higher PSNR than: {beats} (of {n}).",
            f"- The nets' share (ours - nets off): {mean[OURS][0] - mean[NETS_OFF][0]:+.2f} dB mean PSNR; ours above "
            f"nets off on {_wins(rows, cases, NETS_OFF, 'psnr', False)} of {n}. Ours at least the hazy input in "
            f"PSNR and SSIM on {never_worse} of {n}; ours minus DCP {mean[OURS][0] - mean[dcp][0]:+.2f} dB, at least "
            f"DCP on {sum(_get(rows, c, OURS)['psnr'] >= _get(rows, c, dcp)['psnr'] for c in cases)} of {n}."]
    return out


NOGT_METHODS = ("DCP (He et al.)", NETS_OFF, OURS)


def nogt_rows(photos: list[HazyPair], work: Path, common: list[str], extra: list[str], quick: bool
              ) -> tuple[list[dict], list, list]:
    """Each photo's fog left (FADE), clipped share, colour cast and noise in every column, a figure row per
    photo and a row of full-resolution crops (where the haze is and the noise shows)."""
    rows, grid, crops = [], [], []
    for p in photos:
        hazy = load_image(p.hazy)
        found = {"hazy input": (hazy, 0.0, None)}
        t = time.perf_counter()
        found["DCP (He et al.)"] = (dcp_dehaze(hazy)[0], time.perf_counter() - t, None)
        for method, args in ((NETS_OFF, ["--dip=false"]), (OURS, [])):
            t = time.perf_counter()
            r = run_script("dehazing_system", [f"--input={p.hazy}", "--gt=", *common, *args,
                                               *(QUICK["dehaze"] if quick else []), *extra])
            found[method] = (load_image(r["run_dir"] / "dehazed.png"), time.perf_counter() - t, r["omega"])
        for method, (j, seconds, omega) in found.items():
            rows.append({"case": p.name, "method": method, "fade": fog.fade(j), "clipped": fog.clipped(j),
                         "cast": fog.cast(hazy, j), "noise": fog.noise(j), "time": seconds, "omega": omega})
        grid.append([(f"{p.name}\nhazy" if m == "hazy input" else m, j) for m, (j, _, _) in found.items()])
        y, x = crop_window(hazy)
        crops.append([(f"{p.name} (1:1 crop)" if m == "hazy input" else m, j[y:y + CROP, x:x + CROP])
                      for m, (j, _, _) in found.items()])
        print(f"{p.name}: " + ", ".join(f"{x['method']} FADE {x['fade']:.2f} clipped {x['clipped']:.1f}% cast "
                                        f"{x['cast']:.1f} noise {1000 * x['noise']:.1f}" for x in rows
                                        if x["case"] == p.name), flush=True)
    return rows, grid, crops


CROP = 200  # px of the full-size photo in each crop


def crop_window(hazy: np.ndarray) -> tuple[int, int]:
    """The top-left corner of the CROP x CROP window to show at full resolution: among the windows whose haze
    (their mean dark channel) is above the photo's median, the most textured (the largest spread of grey
    levels): where a dehazer must work, and where it amplifies noise, but not a blank sky."""
    from classical.haze import dark_channel
    h, w = hazy.shape[:2]
    if min(h, w) <= CROP:
        return 0, 0
    grey = hazy.mean(axis=2)
    dark = dark_channel(hazy)
    step, hazy_enough = CROP // 2, float(np.median(dark))
    best, where = -1.0, (0, 0)
    for y in range(0, h - CROP + 1, step):
        for x in range(0, w - CROP + 1, step):
            if dark[y:y + CROP, x:x + CROP].mean() >= hazy_enough:
                spread = float(grey[y:y + CROP, x:x + CROP].std())
                if spread > best:
                    best, where = spread, (y, x)
    return where


def nogt_table(rows: list[dict], title: str) -> list[str]:
    cases = list(dict.fromkeys(r["case"] for r in rows))
    dcp = "DCP (He et al.)"
    out = [f"## {title}", "",
           "No truth: what can be checked. FADE: the fog left (lower = less; the hazy photo's beside); clipped: % "
           "of pixels with a channel at 0 or 255; cast: the colour shift from the input, |change of mean a*| + "
           "|change of mean b*| in CIELAB (about 2 is hard to see); noise: scikit-image's estimate of the noise "
           "sigma (x1000). Each cell: FADE / clipped % / cast / noise.", "",
           "| photo | hazy FADE | " + " | ".join(NOGT_METHODS) + " | ours FADE / DCP's | omega | time (s) |",
           "|---|---|" + "---|" * len(NOGT_METHODS) + "---|---|---|"]

    def cell(r: dict) -> str:
        return f"{r['fade']:.2f} / {r['clipped']:.1f} / {r['cast']:.1f} / {1000 * r['noise']:.1f}"
    for case in cases:
        by = {m: _get(rows, case, m) for m in ("hazy input", *NOGT_METHODS)}
        out.append(f"| {case} | {by['hazy input']['fade']:.2f} | " + " | ".join(cell(by[m]) for m in NOGT_METHODS)
                   + f" | {by[OURS]['fade'] / by[dcp]['fade']:.2f} | {by[OURS]['omega']:.2f} | "
                     f"{by[NETS_OFF]['time']:.1f} / {by[OURS]['time']:.1f} |")
    keys = ("fade", "clipped", "cast", "noise")
    mean = {m: {k: nanmean([_get(rows, c, m)[k] for c in cases]) for k in keys} for m in ("hazy input", *NOGT_METHODS)}
    out.append(f"| **mean** | {mean['hazy input']['fade']:.2f} | " + " | ".join(f"**{cell(mean[m])}**"
                                                                           for m in NOGT_METHODS) + " | | | |")
    n = len(cases)
    worst = max(_get(rows, c, OURS)["fade"] / _get(rows, c, dcp)["fade"] for c in cases)
    over = [c for c in cases if _get(rows, c, OURS)["fade"] > 3 * _get(rows, c, dcp)["fade"]]
    out += ["", f"- Ours leaves at most {worst:.2f}x DCP's fog (the truth holds about 2x DCP's on the pairs); above 3x "
                f"on {len(over)} of {n}{': ' + ', '.join(over) if over else ''}. Clipped share above DCP's on "
            f"{sum(_get(rows, c, OURS)['clipped'] > _get(rows, c, dcp)['clipped'] for c in cases)} of {n}, colour "
            f"cast above DCP's on {sum(_get(rows, c, OURS)['cast'] > _get(rows, c, dcp)['cast'] for c in cases)} of "
            f"{n}; less noise than nets off on "
            f"{sum(_get(rows, c, OURS)['noise'] < _get(rows, c, NETS_OFF)['noise'] for c in cases)} of {n}."]
    return out


# --- segmentation ------------------------------------------------------------------------------------------

def has_hints(label: str, kind: str) -> bool:
    """Whether the photos of set `label` have hints of `kind`: the GrabCut benchmark's own lassos and boxes
    exist for its photos only; the others are made from any truth."""
    return kind not in GRABCUT_ONLY or label == "GrabCut"


def hints_for(photo: Photo, truth: np.ndarray, kind: str) -> dict:
    """The hints of `kind` for one photo: sure fg and bg masks (or a box), and the pixels scored."""
    if kind == "lasso":
        trimap = read_grey(photo.mask.with_name(f"{photo.name}_trimap_lasso.png"))
        fg, bg = trimap == 255, (trimap == 0) | (trimap == 64)
        return {"fg": fg, "bg": bg, "region": ~(fg | bg)}
    if kind in BOXES:
        box = photo.box if kind == "gcbox" else realdata.box_of(truth)
        inside = np.zeros(truth.shape, bool)
        inside[box[1]:box[3], box[0]:box[2]] = True
        return {"box": box, "fg": inside, "bg": ~inside, "region": inside}
    make = {"centred": realdata.centred_trimap, "loose": realdata.loose_trimap, "strokes": realdata.strokes}[kind]
    fg, bg = make(truth)
    return {"fg": fg, "bg": bg, "region": ~(fg | bg)}


def grabcut_peer(image8: np.ndarray, truth: np.ndarray, h: dict) -> np.ndarray:
    """OpenCV GrabCut from the same hints: its box mode from a box (nothing when the box leaves no
    background); from masks, the better (by the truth) of its two starts."""
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(image8, cv2.COLOR_RGB2BGR)
    if "box" in h:
        x0, y0, x1, y1 = h["box"]
        mask = np.zeros(truth.shape, np.uint8)
        cv2.setRNGSeed(0)
        try:
            cv2.grabCut(bgr, mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, 10, cv2.GC_INIT_WITH_RECT)
        except cv2.error:  # a box over the whole image: OpenCV's GrabCut stops with an assertion
            return np.zeros(truth.shape, bool)
        return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    results = []
    for start in (cv2.GC_PR_FGD, cv2.GC_PR_BGD):
        mask = np.full(truth.shape, start, np.uint8)
        mask[h["bg"]], mask[h["fg"]] = cv2.GC_BGD, cv2.GC_FGD
        cv2.setRNGSeed(0)
        cv2.grabCut(bgr, mask, None, bgd.copy(), fgd.copy(), 10, cv2.GC_INIT_WITH_MASK)
        results.append((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD))
    return min(results, key=lambda m: scores(m, truth, h["region"])[0])


def seg_columns(kind: str) -> tuple[str, ...]:
    peer = "GrabCut box mode" if kind in BOXES else "GrabCut (better start, by the truth)"
    return ("hints alone", *(("band middle alone",) if kind in BANDS else ()), peer, NETS_OFF, OURS)


def seg_rows(photos: list[Photo], kind: str, work: Path, common: list[str], extra: list[str], quick: bool
             ) -> tuple[list[dict], list]:
    rows, grid = [], []
    cols = seg_columns(kind)
    for p in photos:
        image8, truth = read_rgb(p.image), read_grey(p.mask)
        h = hints_for(p, truth, kind)
        tag = f"{p.set}_{p.name}_{kind}".replace(" ", "_")
        row = {"hints alone": h["fg"]}
        if kind in BANDS:
            row["band middle alone"] = band_middle(h["fg"], h["bg"])
        t = time.perf_counter()
        row[cols[-3]] = grabcut_peer(image8, truth, h)
        times = {cols[-3]: time.perf_counter() - t}
        if "box" in h:
            args = ["--box=" + ",".join(str(v) for v in h["box"])]
        else:
            save_image(work / f"{tag}_fg.png", h["fg"].astype(np.float32))
            save_image(work / f"{tag}_bg.png", h["bg"].astype(np.float32))
            args = [f"--fg_hint={work / tag}_fg.png", f"--bg_hint={work / tag}_bg.png"]
        for method, more in ((NETS_OFF, ["--dip=false"]), (OURS, [])):
            t = time.perf_counter()
            r = run_script("segmentation", [f"--input={p.image}", *args, "--truth=", *common, *more,
                                            *(QUICK["segment"] if quick else []), *extra])
            times[method] = time.perf_counter() - t
            row[method] = load_image(r["run_dir"] / "mask.png")[:, :, 0] > 0.5
        for method in cols:
            err, iou = scores(row[method], truth, h["region"])
            rows.append({"case": p.name, "method": method, "error": err, "iou": iou, "time": times.get(method, 0.0)})
        shown = image8.astype(np.float32) / 255
        if "box" in h:
            cv2.rectangle(shown, h["box"][:2], (h["box"][2] - 1, h["box"][3] - 1), (1.0, 0.2, 0.2), 2)
        else:
            shown[h["fg"]], shown[h["bg"]] = (1.0, 0.2, 0.2), (0.2, 0.4, 1.0)
        grid.append([(f"{p.name}\n{kind} hints", shown), ("GrabCut", 1.0 - row[cols[-3]]),
                     (NETS_OFF, 1.0 - row[NETS_OFF]), (OURS, 1.0 - row[OURS]), ("truth", 1.0 - truth / 255.0)])
        print(f"{p.set} {p.name} {kind}: " + ", ".join(f"{x['method']} {x['error']:.2f}% / {x['iou']:.3f}"
                                                       for x in rows if x["case"] == p.name), flush=True)
    return rows, grid


def seg_table(rows: list[dict], title: str, kind: str) -> list[str]:
    cols = seg_columns(kind)
    cases = list(dict.fromkeys(r["case"] for r in rows))
    where = "inside the box" if kind in BOXES else "among the pixels the hints leave open"
    out = [f"## {title}", "", f"Error % (wrong pixels {where}; the truth's unlabelled band left out) / foreground "
           "IoU; time: GrabCut / nets off / ours, s.", "",
           "| photo | " + " | ".join(f"**{m}**" if m == NETS_OFF else m for m in cols) + " | time (s) |",
           "|---|" + "---|" * len(cols) + "---|"]
    for case in cases:
        by = {m: _get(rows, case, m) for m in cols}
        out.append(f"| {case} | " + " | ".join(f"{by[m]['error']:.2f} / {by[m]['iou']:.3f}" for m in cols)
                   + f" | {by[cols[-3]]['time']:.1f} / {by[NETS_OFF]['time']:.1f} / {by[OURS]['time']:.1f} |")
    stats = {m: (nanmean([_get(rows, c, m)["error"] for c in cases]),
                 float(np.nanmedian([_get(rows, c, m)["error"] for c in cases])),
                 nanmean([_get(rows, c, m)["iou"] for c in cases])) for m in cols}
    out.append("| **mean** | " + " | ".join(f"**{e:.2f} / {i:.3f}**" for e, _, i in stats.values()) + " | |")
    out.append("| median error | " + " | ".join(f"{md:.2f}" for _, md, _ in stats.values()) + " | |")
    n = len(cases)
    below_hint = sum(_get(rows, c, OURS)["iou"] < _get(rows, c, "hints alone")["iou"] for c in cases)
    out += ["", f"- {n} photos. Mean error: " + ", ".join(f"{m} {e:.2f}%" for m, (e, _, _) in stats.items())
            + ". Ours has the lower error than: " + ", ".join(f"{m} {_wins(rows, cases, m, 'error', True)}"
                                                                for m in cols[:-1]) + f" (of {n})."
            + (f" Ours below the sure-foreground hint's own IoU on {below_hint} of {n}." if kind not in BOXES else "")]
    return out


# --- three layers ------------------------------------------------------------------------------------------

LAYER_KINDS = ("loose", "strokes")  # davis_multi's two hint sets
LAYERS = ("fg", "mg", "bg")  # labels 2, 1, 0
RANDOM_WALKER, WATERSHED = "random walker", "watershed"
SYSTEM_VOTE, SYSTEM_PAPER, MULTI = "system, vote", "system, paper", "multi"
THREE_COLUMNS = ("hints alone", RANDOM_WALKER, WATERSHED, NETS_OFF, SYSTEM_VOTE, SYSTEM_PAPER, MULTI)
THREE_PEERS = ("hints alone", RANDOM_WALKER, WATERSHED, NETS_OFF)
THREE_OURS = {"system": {"vote": SYSTEM_VOTE, "paper": SYSTEM_PAPER}, "multi": {"vote": MULTI, "paper": MULTI}}


def default_three_layer() -> str:
    """The column of segmentation.py's default three-layer method (what a user gets with --layers=3)."""
    import segmentation
    return THREE_OURS[segmentation.METHOD][segmentation.FUSION]


def layered_truth(frame: realdata.LayeredFrame) -> tuple[np.ndarray, np.ndarray]:
    """(labels 0 bg / 1 the second object / 2 the larger object, the pixels not scored)."""
    grey = read_grey(frame.labels)
    return np.select([grey == 255, grey == 128], [2, 1], 0).astype(np.uint8), read_grey(frame.void) > 127


def layer_ious(labels: np.ndarray, truth: np.ndarray, void: np.ndarray) -> list[float]:
    """IoU of fg, mg, bg (labels 2, 1, 0) with the void pixels left out (a label absent from both: 1)."""
    from utils.metrics import per_class_iou
    return per_class_iou(labels[~void], truth[~void], 3)[::-1]


def seeded_peers(image8: np.ndarray, markers: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """The classical seeded multi-label tools from the same hints (markers: 0 open, label + 1 hinted), each
    (labels, seconds): scikit-image's random_walker (Grady 2006; its default beta 130, the cg_j solver) and
    OpenCV's marker watershed (its boundary pixels, -1, go to the nearest region)."""
    from scipy import ndimage
    from skimage.segmentation import random_walker
    t = time.perf_counter()
    rw = random_walker(image8.astype(np.float64) / 255, markers, beta=130, mode="cg_j", tol=1e-3, channel_axis=2)
    rw_time = time.perf_counter() - t
    t = time.perf_counter()
    ws = cv2.watershed(cv2.cvtColor(image8, cv2.COLOR_RGB2BGR), markers.astype(np.int32).copy())
    _, (yy, xx) = ndimage.distance_transform_edt(ws <= 0, return_indices=True)
    ws = ws[yy, xx]
    return {RANDOM_WALKER: ((rw - 1).astype(np.uint8), rw_time),
            WATERSHED: ((ws - 1).astype(np.uint8), time.perf_counter() - t)}


def three_rows(frames: list[realdata.LayeredFrame], kind: str, common: list[str], extra: list[str], quick: bool
               ) -> tuple[list[dict], list]:
    """Every column's per-layer IoU on each frame from the `kind` hints, and a figure row per frame. The
    system's paper fusion is fused from the vote run's own pairwise masks (the fusion changes nothing
    before it: a --fusion=paper run fits the same nets), so the system is fitted once per frame."""
    import segmentation
    from net.segment import fuse_paper
    from utils.plotting import overlay
    rows, grid, ours = [], [], default_three_layer()
    quick_args = QUICK["segment"] if quick else []
    for f in frames:
        image8 = read_rgb(f.image)
        truth, void = layered_truth(f)
        markers = np.zeros(truth.shape, np.int32)
        for label, layer in zip((2, 1, 0), LAYERS, strict=True):
            markers[read_grey(f.hint(kind, layer)) > 127] = label + 1
        found = {"hints alone": (np.where(markers > 0, markers - 1, 255).astype(np.uint8), 0.0),
                 **seeded_peers(image8, markers)}
        hints = [f"--{layer}_hint={f.hint(kind, layer)}" for layer in LAYERS]
        base = [f"--input={f.image}", "--layers=3", *hints, "--truth=", *common]
        for method, more in ((NETS_OFF, ["--method=multi", "--dip=false"]), (SYSTEM_VOTE, ["--method=system",
                             "--fusion=vote"]), (MULTI, ["--method=multi"])):
            t = time.perf_counter()
            r = run_script("segmentation", [*base, *more, *(quick_args if method != NETS_OFF else []), *extra])
            found[method] = (np.rint(load_image(r["run_dir"] / "labels.png")[:, :, 0] * 255).astype(np.uint8),
                             time.perf_counter() - t)
            if method == SYSTEM_VOTE:
                masks = {labs: load_image(r["run_dir"] / f"pair_{a}_{b}" / "mask.png")[:, :, 0]
                         for (a, b), labs in segmentation.PAIRS.items()}
                found[SYSTEM_PAPER] = (fuse_paper(masks), found[method][1])
        for method in THREE_COLUMNS:
            labels, seconds = found[method]
            ious = layer_ious(labels, truth, void)
            rows.append({"case": f.name, "method": method, "iou": float(np.mean(ious)), "layers": ious,
                         "time": seconds})
        shown = image8 / 255.0
        hinted = overlay(shown, found["hints alone"][0])
        hinted[markers == 0] = shown[markers == 0]
        grid.append([(f"{f.name} ({f.video})\n{kind} hints", hinted), ("truth", overlay(shown, truth)),
                     *[(m, overlay(shown, found[m][0])) for m in (RANDOM_WALKER, WATERSHED, NETS_OFF, ours)]])
        print(f"{f.name} {kind}: " + ", ".join(f"{x['method']} {x['iou']:.3f}" for x in rows if x["case"] == f.name),
              flush=True)
    return rows, grid


def three_table(rows: list[dict], title: str) -> list[str]:
    """Per frame mean IoU; per column the layers' IoU, its wins over each peer and its time; the targets."""
    cases = list(dict.fromkeys(r["case"] for r in rows))
    ours, n = default_three_layer(), len(cases)
    out = [f"## {title}", "", "Mean IoU over the three layers (void left out).", "",
           "| frame | " + " | ".join(f"**{m}**" if m == NETS_OFF else m for m in THREE_COLUMNS) + " |",
           "|---|" + "---|" * len(THREE_COLUMNS)]
    for case in cases:
        out.append(f"| {case} | " + " | ".join(f"{_get(rows, case, m)['iou']:.3f}" for m in THREE_COLUMNS) + " |")
    out += ["", "| column | mean IoU | fg | mg | bg | " + " | ".join(f"beats {p}" for p in THREE_PEERS)
            + " | s / photo |", "|---|" + "---|" * (5 + len(THREE_PEERS))]

    def beats(m: str, p: str) -> int:
        return sum(_get(rows, c, m)["iou"] > _get(rows, c, p)["iou"] for c in cases)
    for m in THREE_COLUMNS:
        layers = np.mean([_get(rows, c, m)["layers"] for c in cases], axis=0)
        mean = nanmean([_get(rows, c, m)["iou"] for c in cases])
        name = f"**{m}** (ours: the default)" if m == ours else m
        out.append(f"| {name} | {mean:.3f} | " + " | ".join(f"{v:.3f}" for v in layers) + " | "
                   + " | ".join("-" if p == m else f"{beats(m, p)} of {n}" for p in THREE_PEERS)
                   + f" | {nanmean([_get(rows, c, m)['time'] for c in cases]):.1f} |")
    mean = {m: nanmean([_get(rows, c, m)["iou"] for c in cases]) for m in THREE_COLUMNS}
    worst = min(_get(rows, c, ours)["iou"] - _get(rows, c, NETS_OFF)["iou"] for c in cases)
    need = int(np.ceil(0.75 * n))

    def held(ok: bool) -> str:
        return "met" if ok else "**not met**"
    out += [""] + [f"- target: ours ({ours}) at least 0.03 above {p} and better on at least {need} of {n}: "
                   f"{mean[ours] - mean[p]:+.3f}, better on {beats(ours, p)}: "
                   f"{held(mean[ours] - mean[p] >= 0.03 and beats(ours, p) >= need)}."
                   for p in (NETS_OFF, RANDOM_WALKER, WATERSHED)]
    best_system = max(mean[SYSTEM_VOTE], mean[SYSTEM_PAPER])
    out += [f"- target: the multinomial model at least as good as the system of three: multi {mean[MULTI]:.3f}, "
            f"system {best_system:.3f} (the better fusion): {held(mean[MULTI] >= best_system)}.",
            f"- target: no frame where ours falls more than 0.05 below nets off: worst {worst:+.3f}: "
            f"{held(worst >= -0.05)}.",
            f"- target: at most 20 s per photo with the defaults: ours "
            f"{nanmean([_get(rows, c, ours)['time'] for c in cases]):.1f} s "
            "(the run as a user starts it, from loading to its results.json, with no truth to score)."]
    return out


# --- the command -------------------------------------------------------------------------------------------

def write(out: Path, name: str, header: str, sections: list[list[str]], grids: list[list]) -> None:
    from utils.atomic import atomic_path
    rows = [r for g in grids for r in g[:FIGURE_ROWS]]
    if rows:
        figure(rows, out / f"{name}.jpg")
    text = "\n".join([header, "", *[line for s in sections for line in [*s, ""]], f"![{name}.jpg]({name}.jpg)", ""])
    with atomic_path(out / f"{name}.md") as tmp:
        Path(tmp).write_text(text)
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help=f"comma-separated parts: {', '.join(PARTS)}")
    p.add_argument("--half", default="both", choices=("dev", "test", "both"))
    p.add_argument("--sets", default=",".join(SEG_SETS), help="segmentation sets")
    p.add_argument("--hints", default=",".join(HINT_KINDS), help=f"segmentation hints: {', '.join(HINT_KINDS)}")
    p.add_argument("--cases", default="", help="only cases whose name contains one of these (comma-separated)")
    p.add_argument("--quick", action="store_true", help="two cases per table, a few iterations (smoke test)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", default="0", help="seed of our runs")
    p.add_argument("--seg_args", default="", help="extra settings for every segmentation run (ours and nets off)")
    p.add_argument("--dehaze_args", default="", help="extra settings for every dehazing run (ours and nets off)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)
    if not REAL.is_dir():
        print(f"the real data is not at {REAL}: nothing to measure (skipped)")
        return 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = ROOT / "output" / f"real_{datetime.now().strftime('%Y%m%d-%H%M%S')}{'_quick' if a.quick else ''}"
    work.mkdir(parents=True, exist_ok=True)
    common = [f"--device={a.device}", "--progress=false", f"--output_dir={work / 'runs'}", f"--seed={a.seed}"]
    command = "`python benchmarks/real.py " + " ".join(argv if argv is not None else sys.argv[1:]) + "`"
    words = [w.strip() for w in a.cases.split(",") if w.strip()]

    def chosen(items: list) -> list:
        items = [x for x in items if not words or any(w in x.name for w in words)]
        return items[:2] if a.quick else items

    for half in ("dev", "test") if a.half == "both" else (a.half,):
        for part in [x for x in a.only.split(",") if x] or list(PARTS):
            start, sections, grids, extra_figures = time.time(), [], [], {}
            if part in ("dehazing", "nogt") and fog.missing():
                print(f"{part}: {fog.missing()}")
                return 2
            if part == "dehazing":
                rows, grid = dehaze_rows(chosen(realdata.hazy_pairs(half)), work, common,
                                         shlex.split(a.dehaze_args), a.quick)
                if rows:
                    sections.append(dehaze_table(rows, f"Dehazing, {half} half"))
                    grids.append(grid)
                    extra_figures[f"real_dehazing_{half}_dense"] = densest(rows, grid)
            elif part == "nogt":
                rows, grid, crops = nogt_rows(chosen(realdata.hazy_photos(half)), work, common,
                                              shlex.split(a.dehaze_args), a.quick)
                if rows:
                    sections.append(nogt_table(rows, f"Real hazy photos without truth, {half} half"))
                    grids.append(grid)
                    extra_figures[f"real_nogt_{half}_crops"] = crops
            elif part == "three_layers":
                for kind in [k for k in a.hints.split(",") if k in LAYER_KINDS] or list(LAYER_KINDS):
                    rows, grid = three_rows(chosen(realdata.layered_frames(half)), kind, common,
                                            shlex.split(a.seg_args), a.quick)
                    if rows:
                        sections.append(three_table(rows, f"DAVIS two-object frames, {kind} hints, {half} half"))
                        grids.append(grid)
            else:
                for label in [s for s in a.sets.split(",") if s]:
                    for kind in [k for k in a.hints.split(",") if k]:
                        if not has_hints(label, kind):
                            continue
                        rows, grid = seg_rows(chosen(realdata.photos(half, (label,))), kind, work, common,
                                              shlex.split(a.seg_args), a.quick)
                        if rows:
                            sections.append(seg_table(rows, f"{label}, {kind} hints, {half} half", kind))
                            grids.append(grid)
            if not sections:
                print(f"{part}, {half} half: no cases selected")
                continue
            name = f"real_{part}_{half}{'_quick' if a.quick else ''}"
            for figure_name, figure_rows in extra_figures.items():
                figure(figure_rows, out / f"{figure_name}{'_quick' if a.quick else ''}.jpg")
                sections.append([f"![{figure_name}.jpg]({figure_name}{'_quick' if a.quick else ''}.jpg)"])
            write(out, name, f"# Real photographs: {part}, {half} half{' (quick smoke version)' if a.quick else ''}\n\n"
                  f"{command}; this part {time.time() - start:.0f} s on {machine_line()}.", sections, grids)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
