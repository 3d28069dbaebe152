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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.config import Config
from utils.run_folder import RunResult

# --- input
INPUT = "images/hazy_motorcycle.png"  # hazy image (PNG, JPEG, TIFF, BMP), or a folder or a glob of them
GT = "auto"  # clean image of the same scene for PSNR/SSIM (auto: X_gt.png beside the input; "" = none)
# --- video (frame by frame)
VIDEO = ""  # hazy video to dehaze instead of INPUT (.mp4, .avi, ...)
VIDEO_GT = "auto"  # clean video of the same scene for per-frame PSNR/SSIM (auto: X_gt.mp4 beside it)
FRAME_STEP = 1  # dehaze every k-th frame
VIDEO_ITERS_FIRST = 20  # iterations for the first frame (of each process's chunk)
VIDEO_ITERS_NEXT = 20  # iterations for each later frame when warm-starting
WARM_START = True  # frame k+1 starts from frame k's weights and input noise (else every frame from scratch)
VIDEO_AIRLIGHT = "carry"  # carry (median estimate over the first frames, kept for all) or per_frame
AIRLIGHT_FRAMES = 5  # frames whose airlight estimates give the carried median
SAVE_FRAMES = False  # also write every dehazed frame as a PNG
VIDEO_SEGMENT = 25  # frames per crash-safe segment: a video run resumes (--resume=RUN) after its last segment
STOP_AFTER = 0  # video: stop after this many frames per process (0 = at the end); go on later with --resume=RUN
# --- system
DIP = True  # fit the J and t nets; false: nets off, the same pipeline with no net (the dark-channel prior's t)
STAGES = 1  # dehazing stages: stage k+1 dehazes stage k's result (1 = plain Double-DIP)
ITERS = 50  # iterations of the first stage (the dev half: 30 and 100 score within 0.1 dB of 50)
ITER_FACTOR = 1.0  # stage k runs ITERS * ITER_FACTOR**k iterations (the paper: 3)
SCHEDULE = "fixed"  # fixed (the iteration counts above) or adaptive (each stage stops at the knee of its PSNR curve)
PLATEAU_WINDOW = 30  # adaptive: a stage stops once its best reconstruction PSNR has gained over the last N...
PLATEAU_FRACTION = 0.25  # ...iterations no more than this fraction of its whole gain (ITERS is then the cap)
AIRLIGHT = "fixed"  # fixed (dark-channel estimate) or learned (an A net, pulled to the estimate at first)
AIRLIGHT_COLOUR = "warm"  # warm (a bluish estimate, clear sky, made grey; a warm one, dust, kept), estimate, grey
AIRLIGHT_PULL_ITERS = 1000  # learned airlight: iterations pulled towards the estimate
CHANNELS = [8, 16, 32, 64, 128]  # per-scale channels of the J and t nets
SKIPS = [0, 0, 0, 4, 4]  # per-scale skip channels
INPUT_DEPTH = 8  # channels of the noise inputs
REG_NOISE = 0.0333  # std of the per-iteration jitter of the J net's input (1/30)
SMOOTH_WEIGHT = 0.005  # weight of the smoothness loss of t
T_PRIOR_WEIGHT = 1.5  # pull of t towards the dark-channel prior's t (0 = Double-DIP; 8 leaves the nets nothing to do)
T_PRIOR_OMEGA = 0.95  # the most haze that prior removes: t_dcp = 1 - omega * dark(I / A)
NET_T = "map"  # the nets' t decides: amount (how much haze; the dark channel says where) or map (all of t)
BLACK_SHARE = 0.005  # omega follows the haze: the largest one leaving this share of pixels below black (0 = fixed)
DENSE_DARK = [0.35, 0.45]  # dense haze: where the input's dark channel (10th percentile) passes these levels, omega...
DENSE_SIDE = 600  # ...moves to the same rule judged at this size, He et al.'s (0 = never)
OMEGA_FLOOR = 0.5  # the rule's omega never goes below this: lower, it answers dark near objects, not haze
STAGE_PRIOR = "split"  # stage k's t prior: split (stages share the input's haze), rest (all left), own (re-estimated)
LR = 0.001  # Adam learning rate
MAX_SIDE = 192  # working resolution of t (longest side in pixels); J is recovered at full size
GUIDED_RADIUS = 0.03  # guided-filter radius for t, as a fraction of the longest side
GUIDED_EPS = 0.001  # guided-filter regularisation
T_MIN = 0.1  # the final t is clipped to [T_MIN, 1]
STAGE_WARM_START = True  # stage k+1 starts from stage k's nets (t shifted to its new prior) instead of afresh
FOLDER_WARM_START = False  # a folder run: each photo starts from the previous photo's nets (measured: no faster)
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


def stage_settings(cfg: Config, k: int, iters: int, name: str = "", retarget: bool = False):
    """Stage k's settings (net.dehaze.DehazeSettings): the script's, with its iterations; later stages take
    stage 0's airlight. A warm start from another stage, or from another photo (`retarget`), shifts t to
    the new prior's mean."""
    from net.dehaze import DehazeSettings
    from net.loop import Plateau
    from utils.config import settings_from
    plateau = Plateau(cfg.plateau_window, cfg.plateau_fraction) if cfg.schedule == "adaptive" else None
    return settings_from(DehazeSettings, cfg, iters=iters, airlight=cfg.airlight if k == 0 else "fixed",
                         plateau=plateau, name=name or f"stage {k + 1}",
                         retarget_t=retarget or (cfg.stage_warm_start and k > 0))


def dehaze_stages(cfg: Config, image: np.ndarray, haze: tuple[np.ndarray, float], iters: list[int], device,
                  warm: list | None = None, name: str = "", other_photo: bool = False) -> list:
    """Iterative dehazing of one image: stage k+1 dehazes stage k's J with stage 0's airlight as prior.

    Chained stages multiply their transmissions, I = (t_0 ... t_k) J_k + (1 - t_0 ... t_k) A, so stage k's
    t prior is what the dark channel prior leaves to remove, t_dcp(I) / (t_0 ... t_{k-1}): close to 1 once
    the haze is gone. `haze` is the airlight and the prior's omega (haze_of); `warm[k]` (a previous
    frame's, or with `other_photo` another photo's, stage-k state) warm-starts stage k."""
    from classical.haze import dcp_transmission
    from net.dehaze import dehaze
    from utils.image_io import resize, working_shape
    work = working_shape(image.shape[:2], cfg.max_side)  # the priors are only needed at the working size
    airlight, omega = haze
    t_dcp = dcp_transmission(resize(image, work), airlight, omega) if cfg.t_prior_weight else None
    t_done = np.ones(work, np.float32)
    current, prior, results = image, airlight, []
    for k, n in enumerate(iters):
        t_prior = None if t_dcp is None else np.clip(t_dcp / np.maximum(t_done, 1e-3), 0, 1)
        if t_prior is not None and cfg.stage_prior == "split":  # share what is left among the stages to run
            t_prior = t_prior ** (1.0 / (len(iters) - k))
        elif t_prior is not None and cfg.stage_prior == "own" and k > 0:  # dehaze stage k-1's J afresh
            small, a = resize(current, work), prior if np.ndim(prior) == 1 else resize(prior, work)
            t_prior = dcp_transmission(small, a, omega_of(cfg, small, a))
        start_from = warm[k] if warm and k < len(warm) else None
        if start_from is None and cfg.stage_warm_start and results:
            start_from = results[-1].state
        settings = stage_settings(cfg, k, n, f"{name}stage {k + 1} of {len(iters)}",
                                  other_photo and bool(warm) and k < len(warm))
        r = dehaze(current, settings, device, airlight=prior, t_prior=t_prior, warm=start_from)
        if k == 0:
            prior = r.A if cfg.airlight == "learned" else r.airlight  # stage 0's airlight: the later stages' prior
        t_done = t_done * resize(r.t, work)
        current = r.J
        results.append(r)
        if r.loop.stopped in ("interrupted", "non_finite"):
            break
    return results


def output_bytes(cfg: Config, shape: tuple[int, int]) -> int:
    """An upper bound on the PNGs a run writes (uncompressed RGB): input, result, transmission, airlight,
    J and t per stage."""
    return (4 + 2 * cfg.stages) * shape[0] * shape[1] * 3


def haze_of(cfg: Config, image: np.ndarray) -> tuple[np.ndarray, float]:
    """The haze of an image, judged at the working size (the nets' view of it): the dark-channel airlight
    estimate (made grey where AIRLIGHT_COLOUR says so), and the omega of the transmission prior
    (classical.haze.haze_omega: how much haze there is)."""
    from classical.haze import estimate_airlight
    from utils.image_io import resize, working_shape
    small = resize(image, working_shape(image.shape[:2], cfg.max_side))
    airlight = estimate_airlight(small)
    if cfg.airlight_colour == "grey" or (cfg.airlight_colour == "warm" and airlight[2] > airlight[0]):
        # the brightest dark channel is often clear sky, blue from Rayleigh scattering; haze and fog scatter
        # all colours about alike (their airlight is grey), while dust and sand make it warm
        airlight = np.full(3, airlight.mean(), np.float32)
    omega = omega_of(cfg, small, airlight)
    if cfg.dense_side and cfg.black_share:
        from classical.haze import dark_channel
        lo, hi = cfg.dense_dark
        weight = float(np.clip((np.percentile(dark_channel(small / airlight), 10) - lo) / (hi - lo), 0, 1))
        if weight > 0:  # judged at He et al.'s size, the rule's omega stays high where the whole photo is hazy
            larger = resize(image, working_shape(image.shape[:2], cfg.dense_side))
            omega += weight * (omega_of(cfg, larger, airlight) - omega)
    return airlight, max(omega, min(cfg.omega_floor, cfg.t_prior_omega))


def omega_of(cfg: Config, small: np.ndarray, airlight: np.ndarray) -> float:
    """The prior's omega for an image at the working size: BLACK_SHARE's (classical.haze.haze_omega), or
    T_PRIOR_OMEGA when that is off."""
    from classical.haze import haze_omega
    if not cfg.black_share:
        return cfg.t_prior_omega
    return haze_omega(small, airlight, cfg.t_prior_omega, cfg.black_share)


def validate(cfg: Config) -> None:
    """Settings that cannot work: one line each."""
    from utils.config import check_choice
    from utils.errors import UserError
    if cfg.stages < 1:
        raise UserError(f"--stages={cfg.stages}: need at least 1 stage (a whole number: 1 is plain Double-DIP)")
    check_choice("schedule", cfg.schedule, ("fixed", "adaptive"))
    if cfg.iter_factor <= 0:
        raise UserError(f"--iter_factor={cfg.iter_factor}: give a positive factor (stage k runs ITERS x it^k)")
    if cfg.schedule == "adaptive" and not (1 <= cfg.plateau_window < cfg.iters and 0 < cfg.plateau_fraction < 1):
        raise UserError(f"--schedule=adaptive with --plateau_window={cfg.plateau_window} and --plateau_fraction="
                        f"{cfg.plateau_fraction} cannot stop before its cap of --iters={cfg.iters}: give a window of "
                        "1 to iters-1 iterations and a fraction between 0 and 1 (or --schedule=fixed)")
    check_choice("stage_prior", cfg.stage_prior, ("split", "rest", "own"))
    check_choice("airlight", cfg.airlight, ("fixed", "learned"))
    check_choice("net_t", cfg.net_t, ("amount", "map"))
    if cfg.net_t == "amount" and not cfg.t_prior_weight:
        raise UserError("--net_t=amount scales the dark-channel prior's haze, which --t_prior_weight=0 leaves out: "
                        "give --t_prior_weight > 0, or --net_t=map")
    check_choice("airlight_colour", cfg.airlight_colour, ("warm", "estimate", "grey"))
    check_choice("video_airlight", cfg.video_airlight, ("carry", "per_frame"))
    if len(cfg.channels) != len(cfg.skips):
        raise UserError(f"--channels and --skips need the same length ({len(cfg.channels)} vs {len(cfg.skips)})")
    if cfg.frame_step < 1 or cfg.video_iters_first < 1 or cfg.video_iters_next < 1 or cfg.iters < 1:
        raise UserError("--frame_step, --iters and --video_iters_first/next must be at least 1")
    from utils.batch import check_batch, is_batch
    if not cfg.video and is_batch(cfg.input):
        check_batch(cfg.input, {"--resume": bool(cfg.resume), "--gt": cfg.gt not in ("auto", "")},
                    "the clean image X_gt.png")


def check_image(image: np.ndarray, what: str) -> None:
    from utils.errors import UserError
    if min(image.shape[:2]) < 4:
        raise UserError(f"{what} is too small ({image.shape[1]}x{image.shape[0]}): need at least 4x4 pixels")
    if image.max() < 1 / 255:
        raise UserError(f"{what} is entirely black: there is nothing to dehaze")
@dataclass
class VideoState:
    """Where one process stands in its chunk of frames: everything a resumed run needs to go on exactly as
    the uninterrupted run would have. Saved whenever a segment of finished frames is safely on disk."""
    position: int = 0  # frames of this process's chunk finished
    warm: list | None = None  # the last frame's nets and inputs, per stage (the next frame's warm start)
    rng: dict | None = None  # the random generators after the last finished frame
    per_frame: list = field(default_factory=list)
    bad_frames: list = field(default_factory=list)  # indices of frames that could not be decoded
    steady: dict = field(default_factory=dict)  # "output", "input", "truth": Steadiness of the chunk
    first: dict = field(default_factory=dict)  # each stream's first frame (uint8): joins the chunks' metrics
    last_output: np.ndarray | None = None  # uint8: repeated where an input frame is damaged
    stopped: str = ""  # "", "interrupted", "paused" (STOP_AFTER) or "disk_full"


def video_truth(cfg: Config, n: int, size: tuple[int, int]) -> str:
    """The clean video of the scene (VIDEO_GT, or X_gt.mp4 beside the input with VIDEO_GT=auto), checked
    against the input; "" when there is none."""
    from utils.errors import UserError
    from utils.image_io import beside
    from utils.video import open_video, video_indices
    path = beside(cfg.video, "_gt.mp4") if cfg.video_gt == "auto" else cfg.video_gt
    if not path:
        return ""
    with open_video(path, "ground-truth video (--video_gt)") as truth:
        m = len(video_indices(truth, cfg.frame_step))
        if m != n or truth.size != size:
            raise UserError(f"--video_gt has {m} frames of {truth.size[0]}x{truth.size[1]}, the video {n} of "
                            f"{size[0]}x{size[1]}: give the clean video of the same scene")
    return str(path)


def carried_haze(cfg: Config) -> tuple[np.ndarray, float]:
    """The airlight and omega carried to every frame: the medians of the first AIRLIGHT_FRAMES' estimates
    (one haze for the whole clip: no flicker from frame-to-frame changes of the estimates)."""
    from utils.video import VideoReader
    with VideoReader(cfg.video) as reader:
        estimates = []
        for _, frame in reader.frames(cfg.frame_step):
            if frame is not None:
                estimates.append(haze_of(cfg, frame))
            if len(estimates) >= cfg.airlight_frames:
                break
    return (np.median([a for a, _ in estimates], axis=0).astype(np.float32),
            float(np.median([o for _, o in estimates])))


def dehaze_frame(cfg: Config, run_cfg: Config, device, i: int, frame: np.ndarray, gt: np.ndarray | None,
                 carried: tuple[np.ndarray, float], warm: list | None) -> tuple[list, np.ndarray, dict]:
    """One frame, warm-started from the previous one: its stages' results, the dehazed frame (uint8) and its
    per-frame record."""
    from utils.metrics import psnr, ssim
    haze = carried if cfg.video_airlight == "carry" else haze_of(cfg, frame)
    iters = stage_iters(cfg.video_iters_next if warm else cfg.video_iters_first, cfg.iter_factor, cfg.stages)
    results = dehaze_stages(run_cfg, frame, haze, iters, device, warm=warm, name=f"frame {i} ")
    J = results[-1].J
    info = {"frame": i, "iterations": [r.loop.iterations for r in results],
            "reconstruction_psnr": results[-1].loop.best_psnr, "airlight": results[0].airlight}
    if gt is not None:
        info.update(psnr_gt=psnr(J, gt), ssim_gt=ssim(J, gt), hazy_psnr_gt=psnr(frame, gt))
    return results, (np.clip(J, 0, 1) * 255 + 0.5).astype(np.uint8), info


def dehaze_chunk(cfg: Config, run_cfg: Config, device, rank: int, chunk: list[int], carried: tuple[np.ndarray, float],
                 store, state: VideoState, run_dir: Path, bar) -> VideoState:
    """Dehaze this process's frames (indices `chunk`) from state.position on, appending each finished frame
    to `store` (a damaged one repeats the previous result). The state is saved whenever a segment closes
    and when the process stops: at the end, at Ctrl-C (the unfinished frame is left for a resumed run),
    after STOP_AFTER frames, or when the disk is about to fill up."""
    import contextlib

    from utils import checkpoint
    from utils.image_io import save_image
    from utils.signals import STOP
    from utils.video import Steadiness, VideoReader, free_bytes
    todo, started = chunk[state.position:], state.position
    reserve = 16e6 + 8 * store.size[0] * store.size[1] * 3  # room to close the files when the disk fills
    state.rng = checkpoint.rng_state()
    with contextlib.ExitStack() as stack:
        frames = stack.enter_context(VideoReader(cfg.video)).frames(cfg.frame_step, todo[0], todo[-1] + 1) \
            if todo else iter(())
        truths = stack.enter_context(VideoReader(cfg.video_gt, "ground-truth video")).frames(
            cfg.frame_step, todo[0], todo[-1] + 1) if todo and cfg.video_gt else None
        for i, frame in frames:
            gt = next(truths)[1] if truths is not None else None
            if free_bytes(run_dir) < reserve:
                state.stopped = "disk_full"
                break
            t0 = time.time()
            if frame is None:  # damaged: the frame count is kept by repeating the previous result
                state.bad_frames.append(i)
                out, info = state.last_output, {"frame": i, "damaged": True}
            else:
                results, out, info = dehaze_frame(cfg, run_cfg, device, i, frame, gt, carried, state.warm)
                if any(r.loop.stopped == "interrupted" for r in results):
                    state.stopped = "interrupted"  # this frame is unfinished: a resumed run redoes it
                    break
                state.warm = [r.state for r in results] if cfg.warm_start else None
            state.position += 1
            if out is not None:  # (a damaged first frame has nothing to repeat: it is left out)
                state.per_frame.append({**info, "rank": rank, "time_s": time.time() - t0})
                for name, f in (("output", out), ("input", frame), ("truth", gt)):
                    if f is not None:
                        state.steady.setdefault(name, Steadiness()).add(f)
                        state.first.setdefault(name, state.steady[name].prev)
                state.last_output = out
                if cfg.save_frames:
                    save_image(run_dir / "frames" / f"frame{i:05d}.png", out)
                closed = store.append(out)
            state.rng = checkpoint.rng_state()
            bar.update(1)
            if out is not None and closed:
                checkpoint.save_video_state(run_dir, rank, state)
            if STOP:
                state.stopped = "interrupted"
                break
            if cfg.stop_after and state.position - started >= cfg.stop_after and state.position < len(chunk):
                state.stopped = "paused"  # as asked: a resumed run goes on from here
                break
    store.close()  # every finished frame is in a closed segment now
    checkpoint.save_video_state(run_dir, rank, state)
    return state


def chunk_summary(state: VideoState, frames: int) -> dict:
    """What rank 0 needs of a process's chunk to report on the whole clip (small: no frames but the first
    and last of each stream, which join the chunks' steadiness measures)."""
    steady = {k: (s.n, s.abs_sum, s.ssim_sum, state.first[k], s.prev) for k, s in state.steady.items()}
    return {"per_frame": state.per_frame, "bad_frames": state.bad_frames, "steady": steady, "frames": frames,
            "finished": state.position, "stopped": state.stopped}


def joined_steadiness(chunks: list[dict]) -> dict[str, tuple[float, float]]:
    """(flicker, temporal SSIM) of each stream over the whole clip, from the chunks' running sums and the
    pairs of frames where one chunk ends and the next begins."""
    from utils.video import Steadiness
    out = {}
    for name in ("output", "input", "truth"):
        parts = [c["steady"][name] for c in chunks if name in c["steady"]]
        if not parts:
            continue
        total = Steadiness()
        for k, (n, abs_sum, ssim_sum, first, _) in enumerate(parts):
            if k > 0:  # the pair across the boundary: the last frame of the chunk before, this one's first
                total.prev = parts[k - 1][4]
                total.add(first)
            total.n, total.abs_sum, total.ssim_sum = total.n + n, total.abs_sum + abs_sum, total.ssim_sum + ssim_sum
        out[name] = (total.flicker, total.tssim)
    return out


def side_by_side_frames(cfg: Config, parts: list[Path]) -> Iterator[np.ndarray]:
    """Input | dehazed, frame by frame (a damaged input frame shows the previous one)."""
    from utils.image_io import to_uint8
    from utils.video import FrameStore, VideoReader
    with VideoReader(cfg.video) as reader:
        inputs = reader.frames(cfg.frame_step)
        previous = None
        for out in FrameStore.frames(parts):
            for _, frame in inputs:
                if frame is not None or previous is not None:
                    previous = to_uint8(frame) if frame is not None else previous
                    break
            yield np.concatenate([previous, out], axis=1)


def finish_video(cfg: Config, run_cfg: Config, run_dir: Path, parts: list[Path], chunks: list[dict], n: int,
                 fps: float, size: tuple[int, int], processes: int, carried: tuple[np.ndarray, float], wall: float
                 ) -> RunResult:
    """Rank 0: the video (encoded once, from every process's segments in order), the side-by-side video,
    results.json and the report (not printed when the disk filled up: the caller says that)."""
    from utils.device import environment
    from utils.run_folder import finish_run
    from utils.video import FrameStore, encode
    written = encode(run_dir / "dehazed.mp4", FrameStore.frames(parts), fps, size)
    stopped = {c["stopped"] for c in chunks} - {""}
    if "disk_full" not in stopped:
        encode(run_dir / "side_by_side.mp4", side_by_side_frames(cfg, parts), fps, (2 * size[0], size[1]))
    per_frame = [f for c in chunks for f in c["per_frame"]]
    timed = [f["time_s"] for f in per_frame if not f.get("damaged")]
    steady = joined_steadiness(chunks)
    in_flicker = steady["input"][0] if "input" in steady else 0.0
    summary = {"frames": n, "frames_dehazed": written, "processes": processes, "warm_start": cfg.warm_start,
               "iterations_first": stage_iters(cfg.video_iters_first, cfg.iter_factor, cfg.stages),
               "iterations_next": stage_iters(cfg.video_iters_next, cfg.iter_factor, cfg.stages),
               "airlight_mode": cfg.video_airlight, "airlight_carried": carried[0], "omega_carried": carried[1],
               "bad_frames": [i for c in chunks for i in c["bad_frames"]],
               "seconds_per_frame": float(np.mean(timed)) if timed else None,
               "seconds_per_frame_after_first": float(np.mean(timed[1:])) if len(timed) > 1 else None,
               "flicker_output": steady.get("output", (0.0,))[0], "flicker_input": in_flicker,
               "flicker_ratio": steady["output"][0] / in_flicker if in_flicker > 0 and "output" in steady else None,
               "tssim_output": steady.get("output", (0, 1.0))[1], "tssim_input": steady.get("input", (0, 1.0))[1]}
    scored = [f for f in per_frame if "psnr_gt" in f]
    if "truth" in steady:  # the truth's own frame-to-frame change is what a stable output matches
        summary.update(flicker_truth=steady["truth"][0], tssim_truth=steady["truth"][1],
                       flicker_ratio_to_truth=summary["flicker_output"] / max(steady["truth"][0], 1e-8))
    if scored:
        summary.update(mean_psnr_gt=float(np.mean([p["psnr_gt"] for p in scored])),
                       mean_ssim_gt=float(np.mean([p["ssim_gt"] for p in scored])),
                       mean_hazy_psnr_gt=float(np.mean([p["hazy_psnr_gt"] for p in scored])))
    report = [f"{written} frames" + (f", {summary['seconds_per_frame']:.2f} s per frame" if timed else "")
              + f"; flicker {summary['flicker_output']:.4f} (input {in_flicker:.4f}), tSSIM "
              f"{summary['tssim_output']:.3f} (input {summary['tssim_input']:.3f})"]
    if "paused" in stopped:
        report.append(f"stopped after {written} of {n} frames as asked (--stop_after); go on with --resume={run_dir}")
    if summary["bad_frames"]:
        report.append(f"warning: {len(summary['bad_frames'])} damaged frame(s) could not be decoded and repeat "
                      f"the previous result: {summary['bad_frames'][:10]}")
    if scored and "truth" in steady:
        report.append(f"mean PSNR vs truth {summary['mean_psnr_gt']:.2f} dB (hazy {summary['mean_hazy_psnr_gt']:.2f} "
                      f"dB), mean SSIM {summary['mean_ssim_gt']:.3f}; flicker {summary['flicker_ratio_to_truth']:.3f}x "
                      f"the truth's (tSSIM {summary['tssim_truth']:.3f})")
    return finish_run(run_dir, {
        "script": "dehazing_system.py", "mode": "video", "config": cfg.as_dict(), "environment": environment(),
        "device": str(run_cfg.device), "precision": run_cfg.precision, "seed": cfg.seed,
        "resumed_from": cfg.resume or None, "video": cfg.video, "video_gt": cfg.video_gt, "fps": fps,
        "size": list(size), "stopped": sorted(stopped), **summary, "per_frame": per_frame},
        report, written < n, wall, quiet="disk_full" in stopped)


def run_video(cfg: Config) -> RunResult | None:
    """Frame-by-frame dehazing of a clip of any length, streamed: frames are decoded, dehazed and stored one
    at a time, so memory does not grow with the clip. The airlight is estimated once (median over the
    first frames) and carried to every frame; with WARM_START frame k+1 starts from frame k's weights and
    input noise. Finished frames go to crash-safe segments (utils.video.FrameStore) with a resumable
    state beside them, so `--resume=RUN` goes on from the last segment. Under torchrun each process takes
    a contiguous chunk of frames and writes its own segments; rank 0 encodes the video from all of them
    (fetching over the process group any it cannot see on its disk). Returns rank 0's result (None on the
    other ranks)."""
    import shutil

    import torch
    from tqdm import tqdm

    from net import precision
    from utils import checkpoint, distributed
    from utils.device import pick_device, seed_everything, threads_used
    from utils.errors import UserError
    from utils.run_folder import new_run_dir
    from utils.video import FrameStore, chunk_bounds, open_video, video_indices
    rank, size, local = distributed.world()
    device = pick_device(cfg.device)
    run_cfg = cfg.replace(precision=precision.resolve(cfg.precision, device), device=str(device))
    if device.type == "cuda" and size > 1:  # one GPU per local rank
        device = torch.device(f"cuda:{local % max(1, torch.cuda.device_count())}")
    with open_video(cfg.video) as reader:
        fps, frame_size = reader.fps, reader.size
        indices = video_indices(reader, cfg.frame_step)
        check_image(next(f for _, f in reader.frames() if f is not None), f"video {cfg.video}")
    cfg = cfg.replace(video_gt=video_truth(cfg, len(indices), frame_size))
    resumed = checkpoint.load_video_state(cfg.resume, rank) if cfg.resume else None
    if cfg.resume and checkpoint.read_meta(cfg.resume).get("processes", 1) != size:
        raise UserError(f"--resume={cfg.resume} ran in {checkpoint.read_meta(cfg.resume).get('processes', 1)} "
                        f"process(es): resume it with as many (torchrun --nproc_per_node=N)")
    distributed.init(device)
    seed_everything(cfg.seed + rank)
    name = f"video{cfg.stages}_{Path(cfg.video).stem}"
    need = len(indices) * frame_size[0] * frame_size[1] * 2  # lossless segments (freed at the end), the video
    run_dir = distributed.broadcast(new_run_dir(cfg.output_dir, name, need) if rank == 0 else None)
    run_dir.mkdir(parents=True, exist_ok=True)  # a process on another machine writes its own copy
    if rank == 0:
        checkpoint.write_meta(run_dir, {"script": "dehazing_system.py", "config": cfg.as_dict(), "processes": size,
                                        "threads": threads_used()[0]})
    store = FrameStore(run_dir / "segments", fps, frame_size, rank, cfg.video_segment)
    state = VideoState()
    if resumed is not None:  # the finished segments of the earlier run, and where it stood after them
        state = resumed
        state.stopped = ""
        store.adopt(sorted((Path(cfg.resume) / "segments").glob(f"part_{rank}_*.avi")))
        checkpoint.set_rng_state(state.rng)
    if cfg.save_frames:
        (run_dir / "frames").mkdir(exist_ok=True)
    a, b = chunk_bounds(len(indices), size)[rank]
    chunk = indices[a:b]
    carried = carried_haze(cfg)
    if rank == 0:
        print(f"dehazing {len(indices)} frames of {cfg.video} ({frame_size[0]}x{frame_size[1]}, {fps:.1f} fps) on "
              f"{size} process(es), {device}; iterations {cfg.video_iters_first} first, {cfg.video_iters_next} "
              f"next ({'warm start' if cfg.warm_start else 'from scratch'})"
              + (f"; resuming {cfg.resume} after {state.position} frames" if resumed else ""))
    start = time.time()
    with tqdm(total=len(chunk), initial=state.position, desc="frames" + (f" (process {rank})" if size > 1 else ""),
              disable=not cfg.progress, leave=False) as bar:
        state = dehaze_chunk(cfg, run_cfg, device, rank, chunk, carried, store, state, run_dir, bar)
    parts = distributed.files_to_rank0(store.done)
    chunks = distributed.gather(chunk_summary(state, len(chunk)))
    result = finish_video(cfg, run_cfg, run_dir, parts, chunks, len(indices), fps, frame_size, size, carried,
                          time.time() - start) if rank == 0 else None
    stopped = distributed.broadcast(result.results["stopped"] if rank == 0 else None)
    if not stopped:  # complete: nothing left to resume, the segments and states go
        shutil.rmtree(run_dir / "segments", ignore_errors=True)
        (run_dir / checkpoint.VIDEO_STATE.format(rank=rank)).unlink(missing_ok=True)
    distributed.finish()
    if "disk_full" in stopped:
        done = f"{result.results['frames_dehazed']} of " if result else ""
        raise UserError(f"the disk of {run_dir} is full: stopped after {done}{len(indices)} frames, which "
                        f"{run_dir / 'dehazed.mp4'} holds (playable); free some space and continue with "
                        f"--resume={run_dir}")
    return result


def run(cfg: Config, folder_nets: dict | None = None) -> RunResult:
    """Dehaze one image as `cfg` says, in cfg.stages stages; every output goes to a fresh run folder.
    `folder_nets` (a folder run's FOLDER_WARM_START) holds the previous photo's nets to start from, and gets
    this photo's."""
    from net import precision
    from utils import checkpoint
    from utils.device import environment, pick_device, seed_everything, threads_used
    from utils.image_io import BackgroundWriter, load_image, save_image, save_input_copy
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
    meta = {"script": "dehazing_system.py", "config": cfg.as_dict(), "threads": threads_used()[0]}
    checkpoint.start(run_dir, cfg.checkpoint_every, meta, cfg.resume)
    iters = stage_iters(cfg.iters, cfg.iter_factor, cfg.stages)
    print(f"dehazing {cfg.input} ({image.shape[1]}x{image.shape[0]}) in {cfg.stages} stage(s) of {iters} iterations "
          f"({cfg.schedule}) on {device}")
    start = time.time()
    save_input_copy(run_dir, image)
    report: list[str] = []
    hazy_scores = {}
    if gt is not None:  # each full-size score once: SSIM of a 12-MP photo takes seconds
        hazy_scores = {"hazy_psnr_gt": psnr(image, gt), "hazy_ssim_gt": ssim(image, gt)}
        report.append(f"hazy input: PSNR {hazy_scores['hazy_psnr_gt']:.2f} dB, SSIM {hazy_scores['hazy_ssim_gt']:.3f}")
    airlight, omega = haze_of(cfg, image)
    stages: list[dict] = []
    histories: dict[str, dict[str, list[float]]] = {}
    outputs, transmission = [], None
    warm = folder_nets.get("warm") if folder_nets is not None else None
    states = []  # each stage's nets: the next photo's start with FOLDER_WARM_START
    for k, r in enumerate(dehaze_stages(run_cfg, image, (airlight, omega), iters, device, warm,
                                                 other_photo=True)):
        if cfg.stages > 1:
            save_image(run_dir / f"stage{k}_J.png", r.J)
            save_image(run_dir / f"stage{k}_t.png", r.t)
        if k == 0 and cfg.airlight == "learned":
            save_image(run_dir / "airlight.png", r.A)
        transmission = r.t if transmission is None else transmission * r.t  # chained stages multiply
        info = {"stage": k, "iterations": r.loop.iterations, "planned_iterations": iters[k],
                "stopped": r.loop.stopped, "best_iteration": r.loop.best_step,
                "reconstruction_psnr": r.loop.best_psnr, "airlight": r.airlight, "t_mean": float(r.t.mean()),
                "time_s": r.time_s}
        line = (f"stage {k + 1} of {cfg.stages}: {r.loop.iterations} iterations, reconstruction PSNR "
                f"{r.loop.best_psnr:.2f} dB")
        if gt is not None:
            info.update(psnr_gt=psnr(r.J, gt), ssim_gt=ssim(r.J, gt))
            line += f", vs truth PSNR {info['psnr_gt']:.2f} dB SSIM {info['ssim_gt']:.3f}"
        report.append(line + f" ({info['time_s']:.1f} s)")
        stages.append(info)
        histories[f"stage {k + 1}"] = r.loop.history
        outputs.append(r.J)
        states.append(r.state)
    if folder_nets is not None:
        folder_nets["warm"] = states
    with BackgroundWriter() as save:  # the PNGs are compressed while the figures are drawn
        save(run_dir / "dehazed.png", outputs[-1])
        save(run_dir / "transmission.png", transmission)
        panels = [image] + outputs[:2]
        titles = ["original", "single dehaze", "double dehaze"][: len(panels)]
        side_by_side(panels, titles, run_dir / "figure.png")
        plot_curves(histories, run_dir / "curves.png")
    final: dict = {"stage": len(outputs) - 1}
    interrupted = any(st["stopped"] == "interrupted" for st in stages)
    if gt is not None:  # the last stage's scores are the final ones, beside the same run with no nets
        final.update(psnr_gt=stages[-1]["psnr_gt"], ssim_gt=stages[-1]["ssim_gt"], **hazy_scores)
        off = ""
        if cfg.dip and not interrupted:
            J_off = dehaze_stages(run_cfg.replace(dip=False), image, (airlight, omega), iters, device)[-1].J
            final.update(nets_off_psnr_gt=psnr(J_off, gt), nets_off_ssim_gt=ssim(J_off, gt))
            off = f"nets off {final['nets_off_psnr_gt']:.2f} / {final['nets_off_ssim_gt']:.3f}, "
        report.append(f"dehazed: PSNR {final['psnr_gt']:.2f} dB, SSIM {final['ssim_gt']:.3f} ({off}hazy input "
                      f"{final['hazy_psnr_gt']:.2f} / {final['hazy_ssim_gt']:.3f})")
    return finish_run(run_dir, {
        "script": "dehazing_system.py", "config": cfg.as_dict(), "environment": environment(),
        "device": str(device), "precision": run_cfg.precision, "seed": cfg.seed, "resumed_from": cfg.resume or None,
        "input": cfg.input, "gt": gt_path, "input_size": [image.shape[1], image.shape[0]],
        "airlight_estimate": airlight, "airlight": stages[0]["airlight"], "omega": omega, "stage_iterations": iters,
        "iterations_used": [st["iterations"] for st in stages], "stages": stages, "final": final},
        report, interrupted, time.time() - start)


def main(argv: list[str] | None = None) -> RunResult:
    """The command line: settings from the constants above and `argv`; one image or one video."""
    from utils.batch import is_batch, run_batch
    from utils.checkpoint import threads_for
    from utils.config import configure
    from utils.device import cpu_share
    cfg = configure(globals(), argv, PRESETS)
    validate(cfg)
    with cpu_share(threads_for(cfg.threads, cfg.resume)):
        if cfg.video:
            return run_video(cfg)
        if is_batch(cfg.input):
            folder_nets = {} if cfg.folder_warm_start else None
            return run_batch(cfg, "dehaze", lambda one: run(one, folder_nets), batch_metrics)
        return run(cfg)


def batch_metrics(results: dict) -> dict:
    """The columns of a folder run's summary.csv for one image."""
    final = {k: round(v, 4) for k, v in results.get("final", {}).items() if k.endswith(("psnr_gt", "ssim_gt"))}
    return {"omega": round(results["omega"], 4), **final}


if __name__ == "__main__":
    from utils.cli import cli
    cli(main)
