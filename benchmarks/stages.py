"""Iterative dehazing stage by stage on every real hazy pair with truth (../shared/realdata/, the dev/test
split of benchmarks/realdata.py): the paper's claims about dehazing a photo again and again, measured.

Two ways to chain stages, both dehazing_system.py's own code (dehaze_stages), run in this process:
- **own** (`--stage_prior=own`, the paper's literal chain): stage k+1 dehazes stage k's result with the
  dark-channel prior re-estimated on it. Stage k of a 4-stage run is what k stages give, so one run of 4
  stages scores stages 1 to 4.
- **split** (`--stage_prior=split`, the default): the K stages share the haze the dark channel finds in
  the input, so a K-stage run is run for each K and its last stage scored.
Each with the nets on and with --dip=false, with the fixed schedule (ITERS per stage). Per stage: PSNR and
SSIM against the clean photo at full size, the iterations run, and the distortion measure that needs no
truth (classical.haze.distortion against the hazy input: newly clipped %, newly saturated %, colour
cast). Rows are grouped by haze strength (the hazy input's PSNR: dense below 13 dB, medium, light above
18 dB) and by set; a plot of PSNR against stage per group, nets off beside it.

    python benchmarks/stages.py --half=test               # the reported half (about 20 min on 2 cores)
    python benchmarks/stages.py --half=dev --quick        # smoke version: two pairs, 5 iterations
Writes benchmarks/results/stages_HALF.md, .json and .png. When the data is absent it says so and exits 0.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import realdata  # noqa: E402

MAX_STAGES = 4
DENSE_BELOW, LIGHT_ABOVE = 13.0, 18.0  # haze strength by the hazy input's PSNR (dB)
MODES = ("own", "split")


def strength(hazy_psnr: float) -> str:
    return "dense" if hazy_psnr < DENSE_BELOW else "light" if hazy_psnr > LIGHT_ABOVE else "medium"


def measure(pair: realdata.HazyPair, argv: list[str], stages: int, modes: tuple[str, ...] = MODES) -> dict:
    """One pair: for each mode and nets on/off, each stage's PSNR, SSIM, iterations and distortion."""
    import torch

    import dehazing_system as ds
    from classical.haze import distortion
    from utils.config import configure
    from utils.image_io import load_image
    from utils.metrics import psnr, ssim
    hazy, clean = load_image(pair.hazy), load_image(pair.clean)
    out = {"pair": pair.name, "set": pair.set, "hazy_psnr": psnr(hazy, clean), "hazy_ssim": ssim(hazy, clean)}
    for mode in modes:
        for dip in (True, False):
            cfg = configure(vars(ds), ["--progress=false", f"--stage_prior={mode}", f"--dip={dip}", *argv])
            haze = ds.haze_of(cfg, hazy)
            rows = []
            for k in [stages] if mode == "own" else range(1, stages + 1):
                torch.manual_seed(cfg.seed)
                np.random.seed(cfg.seed)
                t = time.perf_counter()
                results = ds.dehaze_stages(cfg, hazy, haze, ds.stage_iters(cfg.iters, cfg.iter_factor, k),
                                           torch.device("cpu"))
                seconds = time.perf_counter() - t
                for r in results if mode == "own" else results[-1:]:
                    J = np.clip(r.J, 0, 1)
                    rows.append({"psnr": psnr(J, clean), "ssim": ssim(J, clean), "iterations": r.loop.iterations,
                                 **distortion(hazy, J), "time": seconds})
            out[f"{mode} {'on' if dip else 'off'}"] = rows
    return out


def group_means(records: list[dict], key: str, field: str) -> list[float]:
    return [float(np.mean([r[key][k][field] for r in records])) for k in range(len(records[0][key]))]


def table(records: list[dict], half: str, command: str, seconds: float) -> str:
    from utils.device import machine_line
    keys = [k for k in ("own on", "own off", "split on", "split off") if k in records[0]]
    lines = [f"# Iterative dehazing stage by stage, {half} half", "",
             f"`{command}`; {seconds:.0f} s on {machine_line()}. Fixed schedule (ITERS per stage). own: the "
             "paper's chain (each stage re-estimates the dark-channel prior on its own input); split: the "
             "default (a K-stage run shares the input's haze among its stages; column k is a k-stage run).", ""]
    groups = {"all": records}
    for name in ("dense", "medium", "light"):
        groups[f"{name} haze"] = [r for r in records if strength(r["hazy_psnr"]) == name]
    for label in dict.fromkeys(r["set"] for r in records):
        groups[label] = [r for r in records if r["set"] == label]
    head = " | ".join(f"stage {k + 1}" for k in range(MAX_STAGES))
    lines += ["## Mean PSNR (dB) / SSIM per stage", "",
              f"| group | pairs | hazy | run | {head} |", "|---|---|---|---|" + "---|" * MAX_STAGES]
    for name, recs in groups.items():
        if not recs:
            continue
        hazy = f"{np.mean([r['hazy_psnr'] for r in recs]):.2f} / {np.mean([r['hazy_ssim'] for r in recs]):.3f}"
        for key in keys:
            p, s = group_means(recs, key, "psnr"), group_means(recs, key, "ssim")
            lines.append(f"| {name} | {len(recs)} | {hazy} | {key} | "
                         + " | ".join(f"{a:.2f} / {b:.3f}" for a, b in zip(p, s, strict=True)) + " |")
    lines += ["", "## Claim 1: better with each stage?", "",
              "| run | pairs where stage 2 beats stage 1 (PSNR) | ... stage 4 beats stage 1 | "
              "pairs better at every stage | dense: stage 2 minus stage 1 (dB) |", "|---|---|---|---|---|"]
    dense = groups["dense haze"]
    for key in keys:
        two = sum(r[key][1]["psnr"] > r[key][0]["psnr"] for r in records)
        four = sum(r[key][3]["psnr"] > r[key][0]["psnr"] for r in records)
        every = sum(all(r[key][k + 1]["psnr"] > r[key][k]["psnr"] for k in range(MAX_STAGES - 1)) for r in records)
        gain = np.mean([r[key][1]["psnr"] - r[key][0]["psnr"] for r in dense]) if dense else float("nan")
        lines.append(f"| {key} | {two} of {len(records)} | {four} of {len(records)} | {every} of {len(records)} | "
                     f"{gain:+.2f} |")
    lines += ["", "## Claim 2: more distorted with each stage? (no truth: against the hazy input)", "",
              "Newly clipped % / newly saturated % / colour cast (CIELAB a*b* shift), mean over the pairs.", "",
              f"| run | {head} |", "|---|" + "---|" * MAX_STAGES]
    for key in keys:
        cells = [f"{a:.1f} / {b:.1f} / {c:.1f}" for a, b, c in zip(
            group_means(records, key, "clipped"), group_means(records, key, "saturated"),
            group_means(records, key, "cast"), strict=True)]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", "## Claim 3: iterations per stage (the adaptive schedule's stop; fixed: ITERS each)", "",
              f"| run | {head} | factor stage 2 / stage 1 |", "|---|" + "---|" * (MAX_STAGES + 1)]
    for key in [k for k in keys if k.endswith("on")]:
        its = group_means(records, key, "iterations")
        lines.append(f"| {key} | " + " | ".join(f"{i:.0f}" for i in its) + f" | {its[1] / max(its[0], 1):.2f} |")
    lines += ["", "## Per pair (own chain, nets on): PSNR per stage", "",
              f"| pair | haze | hazy | {head} |", "|---|---|---|" + "---|" * MAX_STAGES]
    for r in records:
        lines.append(f"| {r['pair']} | {strength(r['hazy_psnr'])} | {r['hazy_psnr']:.2f} | "
                     + " | ".join(f"{x['psnr']:.2f}" for x in r["own on"]) + " |")
    return "\n".join(lines + ["", f"![stages_{half}.png](stages_{half}.png)", ""])


def plot(records: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = ("dense", "medium", "light")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=False)
    for ax, name in zip(axes, names, strict=True):
        recs = [r for r in records if strength(r["hazy_psnr"]) == name]
        if not recs:
            continue
        x = np.arange(1, MAX_STAGES + 1)
        for key, style in (("own on", "o-"), ("own off", "o--"), ("split on", "s-"), ("split off", "s--")):
            if key not in recs[0]:
                continue
            ax.plot(x, group_means(recs, key, "psnr"), style, label=key)
        ax.axhline(np.mean([r["hazy_psnr"] for r in recs]), color="grey", lw=0.8, label="hazy input")
        ax.set_title(f"{name} haze ({len(recs)} pairs)")
        ax.set_xlabel("stage")
        ax.set_xticks(x)
    axes[0].set_ylabel("mean PSNR (dB)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--half", default="test", choices=("dev", "test"))
    p.add_argument("--quick", action="store_true", help="two pairs, 5 iterations (smoke test)")
    p.add_argument("--modes", default=",".join(MODES), help="own (the paper's chain), split (K-stage runs, K = 1..4)")
    p.add_argument("--dehaze_args", default="", help="extra dehazing_system.py settings")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)
    if not realdata.REAL.is_dir():
        print(f"the real data is not at {realdata.REAL}: nothing to measure (skipped)")
        return 0
    import torch
    torch.set_num_threads(1)
    pairs = realdata.hazy_pairs(a.half)[: 2 if a.quick else None]
    extra = a.dehaze_args.split() + (["--iters=5"] if a.quick else [])
    start, records = time.time(), []
    for pair in pairs:
        records.append(measure(pair, extra, MAX_STAGES, tuple(m for m in a.modes.split(",") if m in MODES)))
        r = records[-1]
        print(f"{pair.name}: hazy {r['hazy_psnr']:.2f}; " + "; ".join(
            f"{k} " + " ".join(f"{x['psnr']:.2f}" for x in v) for k, v in r.items() if k.endswith(("on", "off"))),
            flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"stages_{a.half}{'_quick' if a.quick else ''}"
    command = "python benchmarks/stages.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = table(records, a.half, command, time.time() - start).replace(f"stages_{a.half}.png", f"{name}.png")
    (out / f"{name}.json").write_text(json.dumps(records, indent=1))
    plot(records, out / f"{name}.png")
    (out / f"{name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
