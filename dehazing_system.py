"""Dehazing with coupled Deep Image Priors: Double-DIP dehazing and the paper's iterative dehazing.

A hazy image is I = t·J + (1 − t)·A: a J net (the clear image) and a t net (the transmission) are fitted
so that, with the airlight A, they rebuild I. Iterative dehazing dehazes stage k's J again in stage k+1.

    python dehazing_system.py                                 # bundled hazy scene, scored against its truth
    python dehazing_system.py --input=hazy.jpg --stages=2     # your image, two stages
    python dehazing_system.py --input=X --gt=Y --stages=2 --output_dir=D
    python dehazing_system.py --preset=paper --device=cuda    # the paper's Figure 3c schedule, one GPU
    python dehazing_system.py --video=images/hazy_pan.mp4     # a video, frame by frame, one process
    torchrun --standalone --nproc_per_node=8 dehazing_system.py --video=in.mp4   # 8 GPUs (or CPU with gloo)

Every UPPER_CASE constant below is a setting: edit it here or override it as --lower_case=value
(`--help` lists them). Each run writes a fresh folder under OUTPUT_DIR and prints its path last.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from utils.config import Config
from utils.run_folder import RunResult

# --- input
INPUT = "images/hazy_motorcycle.png"  # hazy image (PNG, JPEG, TIFF, BMP)
GT = "auto"  # clean image of the same scene for PSNR/SSIM (auto: X_gt.png beside the input; "" = none)
# --- video (frame by frame)
VIDEO = ""  # hazy video to dehaze instead of INPUT (.mp4, .avi, ...)
VIDEO_GT = "auto"  # clean video of the same scene for per-frame PSNR/SSIM (auto: X_gt.mp4 beside it)
FRAME_STEP = 1  # dehaze every k-th frame
VIDEO_ITERS_FIRST = 60  # iterations for the first frame (of each process's chunk; 300 gave the same PSNR)
VIDEO_ITERS_NEXT = 60  # iterations for each later frame when warm-starting
WARM_START = True  # frame k+1 starts from frame k's weights and input noise (else every frame from scratch)
VIDEO_AIRLIGHT = "carry"  # carry (median estimate over the first frames, kept for all) or per_frame
AIRLIGHT_FRAMES = 5  # frames whose airlight estimates give the carried median
SAVE_FRAMES = False  # also write every dehazed frame as a PNG
# --- system
STAGES = 1  # dehazing stages: stage k+1 dehazes stage k's result (1 = plain Double-DIP)
ITERS = 60  # iterations of the first stage (t has fitted its prior by then: more iterations over-fit the haze)
ITER_FACTOR = 1.0  # stage k runs ITERS * ITER_FACTOR**k iterations (the paper: 3)
SCHEDULE = "fixed"  # fixed (the iteration counts above) or adaptive (each stage stops at the knee of its PSNR curve)
PLATEAU_WINDOW = 30  # adaptive: a stage stops once its best reconstruction PSNR has gained over the last N...
PLATEAU_FRACTION = 0.25  # ...iterations no more than this fraction of its whole gain (ITERS is then the cap)
AIRLIGHT = "fixed"  # fixed (dark-channel estimate) or learned (an A net, pulled to the estimate at first)
AIRLIGHT_PULL_ITERS = 1000  # learned airlight: iterations pulled towards the estimate
CHANNELS = [8, 16, 32, 64, 128]  # per-scale channels of the J and t nets
SKIPS = [0, 0, 0, 4, 4]  # per-scale skip channels
INPUT_DEPTH = 8  # channels of the noise inputs
REG_NOISE = 0.0333  # std of the per-iteration jitter of the J net's input (1/30)
SMOOTH_WEIGHT = 0.005  # weight of the smoothness loss of t
T_PRIOR_WEIGHT = 0.5  # pull of t towards the dark-channel-prior transmission left to remove (0 = Double-DIP)
T_PRIOR_OMEGA = 0.95  # haze removed by that prior: t_dcp = 1 - omega * dark(I / A)
PRIOR_SPLIT = True  # several stages share the prior's haze (stage k of K aims at (t_dcp / t_done)^(1/(K-k)))
LR = 0.001  # Adam learning rate
MAX_SIDE = 800  # working resolution: longest side in pixels (outputs are always full size)
GUIDED_RADIUS = 0.03  # guided-filter radius for t, as a fraction of the longest side
GUIDED_EPS = 0.001  # guided-filter regularisation
T_MIN = 0.1  # the final t is clipped to [T_MIN, 1]
STAGE_WARM_START = True  # stage k+1 starts from stage k's nets (t shifted to its new prior) instead of afresh
# --- run
PRESET = ""  # paper: Figure 3c, two stages of 1000 then 3000 iterations; paper_single: one stage of 4000
DEVICE = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps
PRECISION = "auto"  # nets' convolutions: auto (bf16 where the CPU/GPU has it, else fp32), fp32, bf16
CUDA_GRAPH = True  # on CUDA: capture one iteration as a CUDA graph and replay it (same computation, fewer launches)
SEED = 0  # random seed (CPU runs repeat exactly)
OUTPUT_DIR = "output"  # each run writes a fresh folder here
CHECKPOINT_EVERY = 0  # save nets, optimiser, inputs, RNG and iteration every N iterations (0 = off)
RESUME = ""  # a checkpointed run's folder to continue, with its settings (the result goes to a fresh folder)
PROGRESS = True  # show progress bars
THREADS = 0  # CPU threads (0 = this run's share of the cores among the runs alive on this machine)

PRESETS = {"paper": {"stages": 2, "iters": 1000, "iter_factor": 3.0, "stage_warm_start": False},
           "paper_single": {"stages": 1, "iters": 4000}}


def stage_iters(iters: int, factor: float, stages: int) -> list[int]:
    """Iterations of each stage: iters × factor^k, rounded."""
    return [max(1, int(round(iters * factor**k))) for k in range(stages)]


def resolve_gt(cfg: Config, shape: tuple[int, int]) -> tuple[str, np.ndarray | None]:
    """The clean image of the scene (GT, or X_gt.png beside the input with GT=auto), or none."""
    from utils.errors import UserError
    from utils.image_io import beside, load_image
    path = beside(cfg.input, "_gt.png") if cfg.gt == "auto" else cfg.gt
    if not path:
        return "", None
    gt = load_image(path, "ground-truth image (--gt)")
    if gt.shape[:2] != shape:
        raise UserError(f"--gt image is {gt.shape[1]}x{gt.shape[0]} but the input is {shape[1]}x{shape[0]}: "
                        "give the clean image of the same scene at the same size")
    return str(path), gt


def stage_settings(cfg: Config, k: int, iters: int, name: str = ""):  # -> net.dehaze.DehazeSettings
    """Stage k's settings: the script's, with its iterations; later stages take stage 0's airlight."""
    from net.dehaze import DehazeSettings
    from net.loop import Plateau
    from utils.config import settings_from
    plateau = Plateau(cfg.plateau_window, cfg.plateau_fraction) if cfg.schedule == "adaptive" else None
    return settings_from(DehazeSettings, cfg, iters=iters, airlight=cfg.airlight if k == 0 else "fixed",
                         plateau=plateau, name=name or f"stage {k}", retarget_t=cfg.stage_warm_start and k > 0)


def dehaze_stages(cfg: Config, image: np.ndarray, airlight: np.ndarray, iters: list[int], device,
                  warm: list | None = None, name: str = "") -> list:
    """Iterative dehazing of one image: stage k+1 dehazes stage k's J with stage 0's airlight as prior.

    Chained stages multiply their transmissions, I = (t_0 ... t_k) J_k + (1 - t_0 ... t_k) A, so stage k's
    t prior is what the dark channel prior leaves to remove, t_dcp(I) / (t_0 ... t_{k-1}): close to 1 once
    the haze is gone. `warm[k]` (a previous frame's stage-k state) warm-starts stage k."""
    from net.dehaze import dehaze
    from utils.haze import dcp_transmission
    from utils.image_io import resize, working_shape
    work = working_shape(image.shape[:2], cfg.max_side)  # the priors are only needed at the working size
    t_dcp = dcp_transmission(resize(image, work), airlight, cfg.t_prior_omega) if cfg.t_prior_weight else None
    t_done = np.ones(work, np.float32)
    current, prior, results = image, airlight, []
    for k, n in enumerate(iters):
        t_prior = None if t_dcp is None else np.clip(t_dcp / np.maximum(t_done, 1e-3), 0, 1)
        if t_prior is not None and cfg.prior_split:  # share what is left among the stages still to run
            t_prior = t_prior ** (1.0 / (len(iters) - k))
        start_from = warm[k] if warm and k < len(warm) else None
        if start_from is None and cfg.stage_warm_start and results:
            start_from = results[-1].state
        r = dehaze(current, stage_settings(cfg, k, n, f"{name}stage {k}"), device, airlight=prior,
                   t_prior=t_prior, warm=start_from)
        if k == 0:
            prior = r.A if cfg.airlight == "learned" else r.airlight  # stage 0's airlight: the later stages' prior
        t_done = t_done * resize(r.t, work)
        current = r.J
        results.append(r)
        if r.loop.stopped in ("interrupted", "non_finite"):
            break
    return results


def output_bytes(cfg: Config, shape: tuple[int, int]) -> int:
    """An upper bound on the PNGs a run writes (uncompressed RGB): input, J, t and A per stage, result."""
    return (2 + 3 * cfg.stages) * shape[0] * shape[1] * 3


def airlight_of(cfg: Config, image: np.ndarray) -> np.ndarray:
    """The dark-channel airlight estimate, made at the working size (the nets' view of the image)."""
    from utils.haze import estimate_airlight
    from utils.image_io import resize, working_shape
    return estimate_airlight(resize(image, working_shape(image.shape[:2], cfg.max_side)))


def validate(cfg: Config) -> None:
    """Settings that cannot work: one line each."""
    from utils.config import check_choice
    from utils.errors import UserError
    if cfg.stages < 1:
        raise UserError(f"--stages={cfg.stages}: need at least 1 stage")
    check_choice("schedule", cfg.schedule, ("fixed", "adaptive"))
    check_choice("airlight", cfg.airlight, ("fixed", "learned"))
    check_choice("video_airlight", cfg.video_airlight, ("carry", "per_frame"))
    if len(cfg.channels) != len(cfg.skips):
        raise UserError(f"--channels and --skips need the same length ({len(cfg.channels)} vs {len(cfg.skips)})")
    if cfg.frame_step < 1 or cfg.video_iters_first < 1 or cfg.video_iters_next < 1 or cfg.iters < 1:
        raise UserError("--frame_step, --iters and --video_iters_first/next must be at least 1")


def check_image(image: np.ndarray, what: str) -> None:
    from utils.errors import UserError
    if min(image.shape[:2]) < 4:
        raise UserError(f"{what} is too small ({image.shape[1]}x{image.shape[0]}): need at least 4x4 pixels")
    if image.max() < 1 / 255:
        raise UserError(f"{what} is entirely black: there is nothing to dehaze")
def run_video(cfg: Config) -> RunResult | int:
    """Frame-by-frame dehazing. The airlight is estimated once (median over the first frames) and carried
    to every frame; with cfg.warm_start frame k+1 starts from frame k's weights and input noise. Under
    torchrun the frames are split into contiguous chunks, one per rank, and rank 0 writes the video."""
    import torch

    from net import precision
    from utils import checkpoint, distributed
    from utils.device import environment, pick_device, seed_everything
    from utils.errors import UserError
    from utils.image_io import save_image
    from utils.metrics import psnr, ssim
    from utils.run_folder import finish_run, new_run_dir
    from utils.video import chunk_bounds, flicker, read_video, temporal_ssim, write_video
    rank, size, local = distributed.world()
    device = pick_device(cfg.device)
    run_cfg = cfg.replace(precision=precision.resolve(cfg.precision, device))
    if device.type == "cuda" and size > 1:  # one GPU per local rank
        device = torch.device(f"cuda:{local % max(1, torch.cuda.device_count())}")
    frames, fps = read_video(cfg.video, cfg.frame_step)
    check_image(frames[0], f"video {cfg.video}")
    gt_frames = None
    gt_path = f"{Path(cfg.video).with_suffix('')}_gt.mp4" if cfg.video_gt == "auto" else cfg.video_gt
    if (gt_path and Path(gt_path).exists()) or cfg.video_gt not in ("", "auto"):
        gt_frames, _ = read_video(gt_path, cfg.frame_step, "ground-truth video (--video_gt)")
        if len(gt_frames) != len(frames) or gt_frames[0].shape != frames[0].shape:
            raise UserError(f"--video_gt has {len(gt_frames)} frames of {gt_frames[0].shape[1]}x"
                            f"{gt_frames[0].shape[0]}, the video {len(frames)} of {frames[0].shape[1]}x"
                            f"{frames[0].shape[0]}: give the clean video of the same scene")
    else:
        gt_path = ""
    distributed.init(device)
    seed_everything(cfg.seed + rank)
    if size > 1 and (cfg.checkpoint_every or cfg.resume):
        raise UserError("--checkpoint_every and --resume work in one process; run the video without torchrun")
    run_dir = distributed.broadcast(new_run_dir(cfg.output_dir, f"video{cfg.stages}_{Path(cfg.video).stem}")
                                    if rank == 0 else None)
    checkpoint.start(run_dir, cfg.checkpoint_every, {"script": "dehazing_system.py", "config": cfg.as_dict()},
                     cfg.resume)
    iters_first = stage_iters(cfg.video_iters_first, cfg.iter_factor, cfg.stages)
    iters_next = stage_iters(cfg.video_iters_next, cfg.iter_factor, cfg.stages) if cfg.warm_start else iters_first
    carried = np.median([airlight_of(cfg, f) for f in frames[:cfg.airlight_frames]], axis=0).astype(np.float32)
    start_idx, end_idx = chunk_bounds(len(frames), size)[rank]
    if rank == 0:
        print(f"dehazing {len(frames)} frames of {cfg.video} ({frames[0].shape[1]}x{frames[0].shape[0]}, "
              f"{fps:.1f} fps) "
              f"on {size} process(es), {device}; iterations {iters_first[0]} first, {iters_next[0]} next "
              f"({'warm start' if cfg.warm_start else 'from scratch'})")
    start = time.time()
    done: list[tuple[int, np.ndarray, dict]] = []
    warm = None
    for i in range(start_idx, end_idx):
        t0 = time.time()
        airlight = carried if cfg.video_airlight == "carry" else airlight_of(cfg, frames[i])
        iters = iters_first if warm is None else iters_next
        results = dehaze_stages(run_cfg, frames[i], airlight, iters, device, warm=warm, name=f"frame {i} ")
        warm = [r.state for r in results] if cfg.warm_start else None
        J = results[-1].J
        info = {"frame": i, "rank": rank, "iterations": [r.loop.iterations for r in results],
                "reconstruction_psnr": results[-1].loop.best_psnr, "airlight": results[0].airlight,
                "time_s": time.time() - t0}
        if gt_frames is not None:
            info.update(psnr_gt=psnr(J, gt_frames[i]), ssim_gt=ssim(J, gt_frames[i]),
                        hazy_psnr_gt=psnr(frames[i], gt_frames[i]))
        done.append((i, (np.clip(J, 0, 1) * 255 + 0.5).astype(np.uint8), info))
        if any(r.loop.stopped == "interrupted" for r in results):
            break
    gathered = distributed.gather(done)
    distributed.finish()
    if rank != 0:
        return 0
    merged = sorted((item for chunk in gathered for item in chunk), key=lambda x: x[0])
    idx = [m[0] for m in merged]
    out = [m[1].astype(np.float32) / 255.0 for m in merged]
    per_frame = [m[2] for m in merged]
    inputs = [frames[i] for i in idx]
    write_video(run_dir / "dehazed.mp4", out, fps)
    write_video(run_dir / "side_by_side.mp4", [np.concatenate([a, b], axis=1) for a, b in zip(inputs, out,
                                                                                           strict=True)], fps)
    if cfg.save_frames:
        (run_dir / "frames").mkdir()
        for i, f in zip(idx, out, strict=True):
            save_image(run_dir / "frames" / f"frame{i:05d}.png", f)
    wall = time.time() - start
    in_flicker = flicker(inputs)
    summary = {"frames": len(frames), "frames_dehazed": len(out), "processes": size, "warm_start": cfg.warm_start,
               "iterations_first": iters_first, "iterations_next": iters_next,
               "airlight_mode": cfg.video_airlight, "airlight_carried": carried,
               "seconds_per_frame": float(np.mean([p["time_s"] for p in per_frame])),
               "seconds_per_frame_after_first": float(np.mean([p["time_s"] for p in per_frame[1:]] or [0.0])),
               "flicker_output": flicker(out), "flicker_input": in_flicker,
               "flicker_ratio": flicker(out) / in_flicker if in_flicker > 0 else None,
               "tssim_output": temporal_ssim(out), "tssim_input": temporal_ssim(inputs)}
    if gt_frames is not None:  # the truth's own frame-to-frame change is what a stable output matches
        gt_used = [gt_frames[i] for i in idx]
        summary.update(flicker_truth=flicker(gt_used), tssim_truth=temporal_ssim(gt_used))
        summary["flicker_ratio_to_truth"] = summary["flicker_output"] / max(summary["flicker_truth"], 1e-8)
        summary.update(mean_psnr_gt=float(np.mean([p["psnr_gt"] for p in per_frame])),
                       mean_ssim_gt=float(np.mean([p["ssim_gt"] for p in per_frame])),
                       mean_hazy_psnr_gt=float(np.mean([p["hazy_psnr_gt"] for p in per_frame])))
    report = [f"{len(out)} frames, {summary['seconds_per_frame']:.2f} s per frame "
              f"({summary['seconds_per_frame_after_first']:.2f} s after the first); flicker "
              f"{summary['flicker_output']:.4f} (input {in_flicker:.4f}), tSSIM {summary['tssim_output']:.3f} "
              f"(input {summary['tssim_input']:.3f})"]
    if gt_frames is not None:
        report.append(f"mean PSNR vs truth {summary['mean_psnr_gt']:.2f} dB (hazy {summary['mean_hazy_psnr_gt']:.2f} "
                      f"dB), mean SSIM {summary['mean_ssim_gt']:.3f}; flicker {summary['flicker_ratio_to_truth']:.3f}x "
                      f"the truth's (tSSIM {summary['tssim_truth']:.3f})")
    return finish_run(run_dir, {
        "script": "dehazing_system.py", "mode": "video", "config": cfg.as_dict(), "environment": environment(),
        "device": str(device), "precision": run_cfg.precision, "seed": cfg.seed, "resumed_from": cfg.resume or None,
        "video": cfg.video, "video_gt": gt_path, "fps": fps,
        "size": [frames[0].shape[1], frames[0].shape[0]], **summary, "per_frame": per_frame},
        report, len(out) < len(frames), wall)


def run(cfg: Config) -> RunResult:
    """Dehaze one image as `cfg` says, in cfg.stages stages; every output goes to a fresh run folder."""
    from net import precision
    from utils import checkpoint
    from utils.device import environment, pick_device, seed_everything
    from utils.image_io import load_image, save_image
    from utils.metrics import psnr, ssim
    from utils.plotting import plot_curves, side_by_side
    from utils.run_folder import finish_run, new_run_dir
    image = load_image(cfg.input)
    check_image(image, f"input image {cfg.input}")
    gt_path, gt = resolve_gt(cfg, image.shape[:2])
    device = pick_device(cfg.device)
    run_cfg = cfg.replace(precision=precision.resolve(cfg.precision, device))
    seed_everything(cfg.seed)
    run_dir = new_run_dir(cfg.output_dir, f"dehaze{cfg.stages}_{Path(cfg.input).stem}",
                          output_bytes(cfg, image.shape[:2]))
    checkpoint.start(run_dir, cfg.checkpoint_every, {"script": "dehazing_system.py", "config": cfg.as_dict()},
                     cfg.resume)
    iters = stage_iters(cfg.iters, cfg.iter_factor, cfg.stages)
    print(f"dehazing {cfg.input} ({image.shape[1]}x{image.shape[0]}) in {cfg.stages} stage(s) of {iters} iterations "
          f"({cfg.schedule}) on {device}")
    start = time.time()
    save_image(run_dir / "input.png", image)
    report: list[str] = []
    if gt is not None:
        report.append(f"hazy input: PSNR {psnr(image, gt):.2f} dB, SSIM {ssim(image, gt):.3f}")
    airlight = airlight_of(cfg, image)
    stages: list[dict] = []
    histories: dict[str, dict[str, list[float]]] = {}
    outputs = []
    for k, r in enumerate(dehaze_stages(run_cfg, image, airlight, iters, device)):
        save_image(run_dir / f"stage{k}_J.png", r.J)
        save_image(run_dir / f"stage{k}_t.png", r.t)
        save_image(run_dir / f"stage{k}_A.png", r.A)
        info = {"stage": k, "iterations": r.loop.iterations, "planned_iterations": iters[k],
                "stopped": r.loop.stopped, "best_iteration": r.loop.best_step,
                "reconstruction_psnr": r.loop.best_psnr, "airlight": r.airlight, "t_mean": float(r.t.mean()),
                "time_s": r.time_s}
        line = f"stage {k}: {r.loop.iterations} iterations, reconstruction PSNR {r.loop.best_psnr:.2f} dB"
        if gt is not None:
            info.update(psnr_gt=psnr(r.J, gt), ssim_gt=ssim(r.J, gt))
            line += f", vs truth PSNR {info['psnr_gt']:.2f} dB SSIM {info['ssim_gt']:.3f}"
        report.append(line + f" ({info['time_s']:.1f} s)")
        stages.append(info)
        histories[f"stage {k}"] = r.loop.history
        outputs.append(r.J)
    save_image(run_dir / "dehazed.png", outputs[-1])
    panels = [image] + outputs[:2]
    titles = ["original", "single dehaze", "double dehaze"][: len(panels)]
    side_by_side(panels, titles, run_dir / "figure.png")
    plot_curves(histories, run_dir / "curves.png")
    final: dict = {"stage": len(outputs) - 1}
    if gt is not None:
        final.update(psnr_gt=psnr(outputs[-1], gt), ssim_gt=ssim(outputs[-1], gt),
                     hazy_psnr_gt=psnr(image, gt), hazy_ssim_gt=ssim(image, gt))
    interrupted = any(st["stopped"] == "interrupted" for st in stages)
    return finish_run(run_dir, {
        "script": "dehazing_system.py", "config": cfg.as_dict(), "environment": environment(),
        "device": str(device), "precision": run_cfg.precision, "seed": cfg.seed, "resumed_from": cfg.resume or None,
        "input": cfg.input, "gt": gt_path, "input_size": [image.shape[1], image.shape[0]],
        "airlight_estimate": airlight, "airlight": stages[0]["airlight"], "stage_iterations": iters,
        "iterations_used": [st["iterations"] for st in stages], "stages": stages, "final": final},
        report, interrupted, time.time() - start)


def main(argv: list[str] | None = None) -> RunResult:
    """The command line: settings from the constants above and `argv`; one image or one video."""
    from utils.config import configure
    from utils.device import cpu_share
    cfg = configure(globals(), argv, PRESETS)
    validate(cfg)
    with cpu_share(cfg.threads):
        return run_video(cfg) if cfg.video else run(cfg)


if __name__ == "__main__":
    from utils.cli import cli
    cli(main)
