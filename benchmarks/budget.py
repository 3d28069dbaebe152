"""How the nets' share grows with their budget: ours against nets off (--dip=false, the same pipeline with
no net) at several iteration counts and with --preset=paper, on the dev half of the real data
(benchmarks/realdata.py). The question it answers: do the Deep Image Priors pay for themselves, and at
what budget?

    python benchmarks/budget.py --task=dehazing                       # 20, 50, 100, 500, 2000 iterations, paper
    python benchmarks/budget.py --task=segmentation --hints=loose     # 80, 250, 1000, step 2 on, off, paper(@200)
    python benchmarks/budget.py --task=dehazing --budgets=20,100 --cases=RESIDE --out=/tmp/b
    python benchmarks/budget.py --task=dehazing --budgets=20,100,2000 --merge=/tmp/b   # its rows into the table

Each run is one experiment-script run as a user makes it (scored by its own results.json for dehazing,
by the benchmark's error rate for segmentation). Rows are appended to budget_TASK.json as they come,
so a stopped run continues where it stopped (the same command); runs at the same time (--part=K/N) need their
own --out, and --merge adds their rows to the main store; the table and the plot
(budget_TASK.png: the nets' share against the budget, the mean and every case) are written at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import realdata  # noqa: E402
from quality import run_script  # noqa: E402
from real import has_hints, hints_for  # noqa: E402
from realdata import REAL, read_grey, scores  # noqa: E402

from utils.device import machine_line  # noqa: E402
from utils.image_io import load_image, save_image  # noqa: E402

# budget name -> the settings that make it (the nets-off run needs no budget)
DEHAZE_BUDGETS = {"20": ["--iters=20"], "50": ["--iters=50"], "100": ["--iters=100"], "500": ["--iters=500"],
                  "2000": ["--iters=2000"], "paper": ["--preset=paper"]}
SEGMENT_BUDGETS = {"80": ["--step1_iters=80"], "250": ["--step1_iters=250"], "1000": ["--step1_iters=1000"],
                   "80+step2": ["--step1_iters=80", "--step2_iters=250", "--hint_iters=100", "--sharpen_ramp=100"],
                   "250+step2": ["--preset=long"],  # 250 + 750 step-2 iterations, the hints held for 300
                   "1000+step2": ["--step1_iters=1000", "--step2_iters=2000", "--hint_iters=700",
                                  "--sharpen_ramp=700"],
                   "paper": ["--preset=paper"],
                   "paper@200": ["--preset=paper", "--max_side=200"]}  # the paper's schedule and mask at our size


def dehaze_case(pair, budget: list[str], common: list[str]) -> dict:
    t = time.perf_counter()
    r = run_script("dehazing_system", [f"--input={pair.hazy}", f"--gt={pair.clean}", *common, *budget])
    return {"psnr": r["final"]["psnr_gt"], "ssim": r["final"]["ssim_gt"], "time": time.perf_counter() - t,
            "iterations": sum(r["iterations_used"])}


def segment_case(photo, kind: str, budget: list[str], common: list[str], work: Path) -> dict:
    truth = read_grey(photo.mask)
    h = hints_for(photo, truth, kind)
    if "box" in h:
        args = ["--box=" + ",".join(str(v) for v in h["box"])]
    else:
        tag = f"{photo.set}_{photo.name}_{kind}"
        save_image(work / f"{tag}_fg.png", h["fg"].astype(np.float32))
        save_image(work / f"{tag}_bg.png", h["bg"].astype(np.float32))
        args = [f"--fg_hint={work / tag}_fg.png", f"--bg_hint={work / tag}_bg.png"]
    t = time.perf_counter()
    r = run_script("segmentation", [f"--input={photo.image}", *args, "--truth=", *common, *budget])
    err, iou = scores(load_image(r["run_dir"] / "mask.png")[:, :, 0] > 0.5, truth, h["region"])
    return {"error": err, "iou": iou, "time": time.perf_counter() - t}


def part(cases: list, spec: str) -> list:
    """The K-th of N interleaved parts of `cases` ("K/N", K from 1), so N processes share one run; "" = all."""
    if not spec:
        return cases
    k, _, n = spec.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise SystemExit(f"--part={spec}: give K/N with K from 1 to N, as in --part=1/2")
    return cases[int(k) - 1 :: int(n)]


def merged(rows: list[dict], others: list[list[dict]]) -> list[dict]:
    """`rows` with the rows of other stores (runs made at the same time with their own --out) added; a
    (case, budget) measured again replaces the stored one, nets off included (it has no random part)."""
    new = {(r["case"], r["budget"]): r for other in others for r in other}
    return [r for r in rows if (r["case"], r["budget"]) not in new] + list(new.values())


def report(rows: list[dict], task: str, budgets: list[str], out: Path, header: str) -> None:
    """The table (mean score and time per budget, the nets' share, on how many cases ours is better) and the
    plot of the share against the budget."""
    from matplotlib.figure import Figure
    key, better = ("psnr", 1.0) if task == "dehazing" else ("error", -1.0)
    unit = "dB PSNR" if task == "dehazing" else "points of error (lower is better)"
    off = {r["case"]: r for r in rows if r["budget"] == "nets off"}
    lines = [header, "", f"| budget | cases | ours, mean {key} | nets off, mean {key} | the nets' share ({unit}) | "
             "ours better on | mean time (s) |", "|---|---|---|---|---|---|---|"]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    xs, means, ticks = [], [], []
    for i, b in enumerate(budgets):
        mine = {r["case"]: r for r in rows if r["budget"] == b and r["case"] in off}
        if not mine:
            continue
        share = [better * (mine[c][key] - off[c][key]) for c in mine]
        seconds = np.mean([m["time"] for m in mine.values()])
        lines.append(f"| {b} | {len(mine)} | {np.mean([m[key] for m in mine.values()]):.2f} | "
                     f"{np.mean([off[c][key] for c in mine]):.2f} | {np.mean(share):+.2f} | "
                     f"{sum(s > 0 for s in share)} of {len(mine)} | {seconds:.1f} |")
        ax.scatter(np.full(len(share), i), share, s=8, alpha=0.4, color="grey")
        xs.append(i)
        means.append(np.mean(share))
        ticks.append(f"{b}\n({len(mine)})")
    ax.plot(xs, means, "o-", color="C0", label="mean")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(xs, ticks)
    ax.set_xlabel("budget (iterations, or preset), and its number of dev cases")
    ax.set_ylabel("nets' share (dB)" if task == "dehazing" else "nets' share (error points saved)")
    ax.set_title(f"{task}: the nets' share against their budget")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"budget_{task}.png", dpi=100)
    text = "\n".join(lines + ["", f"![budget_{task}.png](budget_{task}.png)", ""])
    (out / f"budget_{task}.md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="dehazing", choices=("dehazing", "segmentation"))
    p.add_argument("--budgets", default="", help="comma-separated budget names (default: all of the task's)")
    p.add_argument("--hints", default="loose", help="segmentation: the kind of hints (see real.py)")
    p.add_argument("--sets", default="GrabCut,Berkeley,COCO-MVal", help="segmentation sets")
    p.add_argument("--cases", default="", help="only cases whose name contains one of these")
    p.add_argument("--stride", type=int, default=1, help="every k-th case only (1 = the whole dev half)")
    p.add_argument("--part", default="", help="K/N: the K-th of N interleaved parts of the cases, for N "
                   "processes at once (each with its own --out, then --merge)")
    p.add_argument("--args", default="", help="extra settings for every run, ours and nets off")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--merge", default="", help="comma-separated --out folders of runs made at the same time: "
                   "their rows are added to this store first")
    a = p.parse_args(argv)
    if not REAL.is_dir():
        print(f"the real data is not at {REAL}: nothing to measure (skipped)")
        return 0
    table = DEHAZE_BUDGETS if a.task == "dehazing" else SEGMENT_BUDGETS
    budgets = [b for b in a.budgets.split(",") if b] or list(table)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / f"budget_{a.task}.json"
    rows = json.loads(store.read_text()) if store.exists() else []
    others = [Path(d) / store.name for d in a.merge.split(",") if d]
    if others:
        rows = merged(rows, [json.loads(o.read_text()) for o in others if o.exists()])
        store.write_text(json.dumps(rows, indent=1))
    work = ROOT / "output" / f"budget_{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True, exist_ok=True)
    common = [f"--device={a.device}", "--progress=false", f"--output_dir={work / 'runs'}", *a.args.split()]
    words = [w for w in a.cases.split(",") if w]
    if a.task == "dehazing":
        cases = [(c.name, c) for c in realdata.hazy_pairs("dev")]
    else:
        sets = tuple(s for s in a.sets.split(",") if has_hints(s, a.hints))
        cases = [(f"{c.set} {c.name}", c) for c in realdata.photos("dev", sets)]
    cases = [c for c in cases if not words or any(w in c[0] for w in words)]
    cases = part(cases[:: max(1, a.stride)], a.part)
    done = {(r["case"], r["budget"]) for r in rows}
    for name, case in cases:
        for b in ["nets off", *budgets]:
            if (name, b) in done:
                continue
            settings = ["--dip=false"] if b == "nets off" else table[b]
            r = dehaze_case(case, settings, common) if a.task == "dehazing" else \
                segment_case(case, a.hints, settings, common, work)
            rows.append({"case": name, "budget": b, **r})
            store.write_text(json.dumps(rows, indent=1))
            print(f"{name} {b}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
    seed = next((w.split("=", 1)[1] for w in a.args.split() if w.startswith("--seed=")), "0")  # (--args)
    command = "`python benchmarks/budget.py " + " ".join(argv if argv is not None else sys.argv[1:]) + "`"
    report(rows, a.task, budgets, out, f"# The nets' share against their budget: {a.task}, dev half\n\n{command} "
           f"on {machine_line()}; seed {seed}." + (f" Hints: {a.hints}." if a.task == "segmentation" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
