"""Dehazing with coupled Deep Image Priors: Double-DIP dehazing and the paper's iterative dehazing.

A hazy image is I = t·J + (1 − t)·A: a J net (the clear image) and a t net (the transmission) are fitted
so that, with the airlight A, they rebuild I. Iterative dehazing dehazes stage k's J again in stage k+1.

    python dehazing_system.py                                 # bundled hazy scene, scored against its truth
    python dehazing_system.py --input=hazy.jpg --stages=2     # your image, two stages
    python dehazing_system.py --input=X --gt=Y --stages=2 --output_dir=D
    python dehazing_system.py --preset=paper --device=cuda    # the paper's iteration counts, one GPU

Every UPPER_CASE constant below is a setting: edit it here or override it as --lower_case=value
(`--help` lists them). Each run writes a fresh folder under OUTPUT_DIR and prints its path last.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

# --- input
INPUT = "images/hazy_motorcycle.png"  # hazy image (PNG, JPEG, TIFF, BMP)
GT = "auto"  # clean image of the same scene for PSNR/SSIM (auto: X_gt.png beside the input; "" = none)
# --- system
STAGES = 1  # dehazing stages: stage k+1 dehazes stage k's result (1 = plain Double-DIP)
ITERS = 500  # iterations of the first stage
ITER_FACTOR = 1.0  # stage k runs ITERS * ITER_FACTOR**k iterations (the paper: 3)
SCHEDULE = "fixed"  # fixed (the iteration counts above) or adaptive (stop each stage on a PSNR plateau)
PLATEAU_WINDOW = 150  # adaptive: iterations over which the best reconstruction PSNR must improve...
PLATEAU_GAIN = 0.05  # ...by at least this many dB, else the stage stops
AIRLIGHT = "fixed"  # fixed (dark-channel estimate) or learned (an A net, pulled to the estimate at first)
AIRLIGHT_PULL_ITERS = 1000  # learned airlight: iterations pulled towards the estimate
CHANNELS = [8, 16, 32, 64, 128]  # per-scale channels of the J and t nets
SKIPS = [0, 0, 0, 4, 4]  # per-scale skip channels
INPUT_DEPTH = 8  # channels of the noise inputs
REG_NOISE = 0.0333  # std of the per-iteration jitter of the J net's input (1/30)
SMOOTH_WEIGHT = 0.005  # weight of the smoothness loss of t
T_PRIOR_WEIGHT = 1.0  # pull of t towards the dark-channel-prior transmission left to remove (0 = Double-DIP)
T_PRIOR_OMEGA = 0.95  # haze removed by that prior: t_dcp = 1 - omega * dark(I / A)
LR = 0.001  # Adam learning rate
MAX_SIDE = 800  # working resolution: longest side in pixels (outputs are always full size)
GUIDED_RADIUS = 0.03  # guided-filter radius for t, as a fraction of the longest side
GUIDED_EPS = 0.001  # guided-filter regularisation
T_MIN = 0.1  # the final t is clipped to [T_MIN, 1]
# --- run
PRESET = ""  # paper: 4000 iterations for one stage, 1000 x 3^k for several
DEVICE = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps
SEED = 0  # random seed (CPU runs repeat exactly)
OUTPUT_DIR = "output"  # each run writes a fresh folder here
PROGRESS = True  # show progress bars

PRESETS = {"paper": {"iters": 1000, "iter_factor": 3.0, "airlight_pull_iters": 1000}}


def stage_iters(iters: int, factor: float, stages: int) -> list[int]:
    """Iterations of each stage: iters × factor^k, rounded."""
    return [max(1, int(round(iters * factor**k))) for k in range(stages)]


def resolve_gt(shape: tuple[int, int]) -> tuple[str, np.ndarray | None]:
    from utils.errors import UserError
    from utils.image_io import load_image
    path = GT
    if GT == "auto":
        path = f"{Path(INPUT).with_suffix('')}_gt.png"
        if not Path(path).exists():
            return "", None
    if not path:
        return "", None
    gt = load_image(path, "ground-truth image (--gt)")
    if gt.shape[:2] != shape:
        raise UserError(f"--gt image is {gt.shape[1]}x{gt.shape[0]} but the input is {shape[1]}x{shape[0]}: "
                        "give the clean image of the same scene at the same size")
    return path, gt


def main(argv: list[str]) -> int:
    from net.dehaze import DehazeSettings, dehaze
    from net.loop import Plateau
    from utils.config import configure
    from utils.errors import UserError
    from utils.haze import dcp_transmission, estimate_airlight
    from utils.image_io import load_image, save_image
    from utils.metrics import psnr, ssim
    from utils.plotting import plot_curves, side_by_side
    from utils.run import environment, new_run_dir, pick_device, seed_everything, write_json

    config = configure(globals(), argv, PRESETS)
    if PRESET == "paper" and STAGES == 1 and "--iters" not in " ".join(argv):
        globals()["ITERS"] = config["iters"] = 4000  # the paper's single-stage count
    if STAGES < 1:
        raise UserError(f"--stages={STAGES}: need at least 1 stage")
    if SCHEDULE not in ("fixed", "adaptive"):
        raise UserError(f"--schedule={SCHEDULE}: use fixed or adaptive")
    if AIRLIGHT not in ("fixed", "learned"):
        raise UserError(f"--airlight={AIRLIGHT}: use fixed or learned")
    if len(CHANNELS) != len(SKIPS):
        raise UserError(f"--channels and --skips need the same length ({len(CHANNELS)} vs {len(SKIPS)})")
    image = load_image(INPUT)
    if min(image.shape[:2]) < 4:
        raise UserError(f"input image is too small ({image.shape[1]}x{image.shape[0]}): need at least 4x4 pixels")
    if image.max() < 1 / 255:
        raise UserError(f"input image {INPUT} is entirely black: there is nothing to dehaze")
    gt_path, gt = resolve_gt(image.shape[:2])
    device = pick_device(DEVICE)
    seed_everything(SEED)
    run_dir = new_run_dir(OUTPUT_DIR, f"dehaze{STAGES}_{Path(INPUT).stem}")
    iters = stage_iters(ITERS, ITER_FACTOR, STAGES)
    print(f"dehazing {INPUT} ({image.shape[1]}x{image.shape[0]}) in {STAGES} stage(s) of {iters} iterations "
          f"({SCHEDULE}) on {device}")
    start = time.time()
    save_image(run_dir / "input.png", image)
    report: list[str] = []
    if gt is not None:
        report.append(f"hazy input: PSNR {psnr(image, gt):.2f} dB, SSIM {ssim(image, gt):.3f}")
    airlight = estimate_airlight(image)
    # stage k dehazes J_{k-1} = t_k J_k + (1 - t_k) A, so I = (t_0 ... t_k) J_k + (1 - t_0 ... t_k) A: its t
    # prior is what the dark channel prior leaves to remove, t_dcp(I) / (t_0 ... t_{k-1}); 1 once reached
    t_dcp = dcp_transmission(image, airlight, T_PRIOR_OMEGA) if T_PRIOR_WEIGHT else None
    t_done = np.ones(image.shape[:2], np.float32)
    stages: list[dict] = []
    histories: dict[str, dict[str, list[float]]] = {}
    current, prior, outputs = image, airlight, []
    for k, n in enumerate(iters):
        t0 = time.time()
        s = DehazeSettings(channels=tuple(CHANNELS), skips=tuple(SKIPS), input_depth=INPUT_DEPTH,
                           reg_noise=REG_NOISE, iters=n, lr=LR, smooth_weight=SMOOTH_WEIGHT,
                           airlight=AIRLIGHT if k == 0 else "fixed", airlight_pull_iters=AIRLIGHT_PULL_ITERS,
                           max_side=MAX_SIDE, guided_radius=GUIDED_RADIUS, guided_eps=GUIDED_EPS, t_min=T_MIN,
                           t_prior_weight=T_PRIOR_WEIGHT, t_prior_omega=T_PRIOR_OMEGA,
                           plateau=Plateau(PLATEAU_WINDOW, PLATEAU_GAIN) if SCHEDULE == "adaptive" else None,
                           progress=PROGRESS, name=f"stage {k}")
        t_prior = None if t_dcp is None else np.clip(t_dcp / np.maximum(t_done, 1e-3), 0, 1)
        r = dehaze(current, s, device, airlight=prior, t_prior=t_prior)
        t_done = t_done * r.t
        if k == 0:
            prior = r.A if AIRLIGHT == "learned" else r.airlight  # stage 0's airlight: the later stages' prior
        save_image(run_dir / f"stage{k}_J.png", r.J)
        save_image(run_dir / f"stage{k}_t.png", r.t)
        save_image(run_dir / f"stage{k}_A.png", r.A)
        info = {"stage": k, "iterations": r.loop.iterations, "planned_iterations": n, "stopped": r.loop.stopped,
                "best_iteration": r.loop.best_step, "reconstruction_psnr": r.loop.best_psnr,
                "airlight": r.airlight, "t_mean": float(r.t.mean()), "time_s": time.time() - t0}
        line = f"stage {k}: {r.loop.iterations} iterations, reconstruction PSNR {r.loop.best_psnr:.2f} dB"
        if gt is not None:
            info.update(psnr_gt=psnr(r.J, gt), ssim_gt=ssim(r.J, gt))
            line += f", vs truth PSNR {info['psnr_gt']:.2f} dB SSIM {info['ssim_gt']:.3f}"
        report.append(line + f" ({info['time_s']:.1f} s)")
        stages.append(info)
        histories[f"stage {k}"] = r.loop.history
        outputs.append(r.J)
        current = r.J
        if r.loop.stopped in ("interrupted", "non_finite"):
            break
    save_image(run_dir / "dehazed.png", outputs[-1])
    panels = [image] + outputs[:2]
    titles = ["original", "single dehaze", "double dehaze"][: len(panels)]
    side_by_side(panels, titles, run_dir / "figure.png")
    plot_curves(histories, run_dir / "curves.png")
    final: dict = {"stage": len(outputs) - 1}
    if gt is not None:
        final.update(psnr_gt=psnr(outputs[-1], gt), ssim_gt=ssim(outputs[-1], gt),
                     hazy_psnr_gt=psnr(image, gt), hazy_ssim_gt=ssim(image, gt))
    wall = time.time() - start
    interrupted = any(st["stopped"] == "interrupted" for st in stages)
    write_json(run_dir / "results.json", {
        "script": "dehazing_system.py", "config": config, "environment": environment(), "device": str(device),
        "seed": SEED, "input": INPUT, "gt": gt_path, "input_size": [image.shape[1], image.shape[0]],
        "airlight_estimate": airlight, "airlight": stages[0]["airlight"], "stage_iterations": iters,
        "iterations_used": [st["iterations"] for st in stages], "stages": stages, "final": final,
        "interrupted": interrupted, "wall_time_s": wall})
    if interrupted:
        report.append("interrupted: the best result so far was written")
    report.append(f"wall time {wall:.1f} s")
    for line in report:
        print(line)
    print(run_dir)
    return 0


if __name__ == "__main__":
    from utils.run import cli
    cli(main)
