"""Transparency separation and watermark removal with coupled Deep Image Priors (Double-DIP's other two
decompositions).

Transparency: a photo through glass is a mixture I = α·a + (1 − α)·b of the scene and a reflection (or two
overlaid textures). One mixture is split by two layer DIPs with a learned weight and the gradient exclusion
loss; two mixtures of the same layers with different weights (two shots at different angles) are split
exactly once the weights are known, which the sparsity of the layers' gradients gives.
Watermark: I_k = α·W + (1 − α)·C_k, one mark shared by one or several images, inside a hinted area (a box
is enough: the mark's own pixels are found in it first, and the DIPs guess the photo under them only).

    python separation.py                                                # bundled two mixtures, scored
    python separation.py --input=mix.png --iters=1000                   # one mixture
    python separation.py --input=shot1.jpg,shot2.jpg                    # two mixtures of the same layers
    python separation.py --task=watermark                               # bundled watermarked photo
    python separation.py --task=watermark --input=a.jpg,b.jpg,c.jpg --hint=mark_area.png
    python separation.py --task=watermark --input=photos/ --device=cuda # every image in a folder, one GPU

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
TASK = "transparency"  # transparency (mixtures into two layers) or watermark (a mark off one or several images)
INPUT = "auto"  # one image, several joined by commas, or (watermark) a folder/glob; auto = the task's bundled sample
HINT = "auto"  # watermark: where the mark may be, white on black (auto: X_hint.png beside the first image; "" = all)
SUPPORT = "detect"  # watermark: detect (narrow the hint to the mark's own pixels first) or hint (fit all of the hint)
GT = "auto"  # the truth to score: transparency X_layer1.png,X_layer2.png; watermark X_gt.png beside each ("" = none)
# --- system
ITERS = 800  # iterations (two mixtures with WEIGHTS=sparse need none; watermark fits still gain up to 800)
INPAINT_ITERS = 150  # watermark: the first iterations fit the clean nets outside the hint only (DIP inpainting)
WEIGHTS = "sparse"  # two mixtures: sparse (gradient-sparsity estimate, exact unmixing) or learned (nets refine them)
MIX = "constant"  # transparency: constant (one weight per mixture) or map (a smooth weight map per mixture)
MARK = "colour"  # watermark: colour (one learned colour, as text and logos are) or free (a mark net's colours)
OPACITY_WEIGHT = 0.0  # watermark: L1 pull of the mark's opacity towards 0
OPAQUE = 0.0  # watermark: above this opacity the clean net's image, below it the input with the mark taken out
EXCLUSION_WEIGHT = 1.0  # transparency: gradient exclusion between the layers (Zhang et al.), 0 = off
COLLAPSED = 0.1  # one mixture: warn when a layer has less than this share of the other's edges (it went flat)
CHANNELS = [8, 16, 32, 64, 128]  # per-scale channels of every net
SKIPS = [0, 0, 0, 4, 4]  # per-scale skip channels
INPUT_DEPTH = 8  # channels of each net's noise input
REG_NOISE = 0.0333  # std of the per-iteration jitter of the noise inputs
LR = 0.001  # Adam learning rate
MAX_SIDE = 256  # working resolution of the nets (longest side); results are written at full size
# --- run
DEVICE = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps
PRECISION = "auto"  # nets' convolutions: auto (bf16 where the CPU/GPU has it, else fp32), fp32, bf16
CUDA_GRAPH = True  # on CUDA: capture one iteration as a CUDA graph and replay it
SEED = 0  # random seed (CPU runs repeat exactly)
OUTPUT_DIR = "output"  # each run writes a fresh folder here
PROGRESS = True  # show progress bars
THREADS = 0  # CPU threads (0 = this run's share of the cores among the runs alive on this machine)
SAMPLES = {"transparency": ("images/glass1.png", "images/glass2.png"), "watermark": ("images/watermarked.png",)}


def input_paths(cfg: Config) -> list[str]:
    """The images of the run: comma-separated files, or (watermark) every image of a folder or glob."""
    from utils.batch import batch_images, is_batch
    if cfg.input == "auto":
        return list(SAMPLES[cfg.task])
    if cfg.task == "watermark" and is_batch(cfg.input):
        return [str(p) for p in batch_images(cfg.input) if not p.stem.endswith("_hint")]
    return [p.strip() for p in cfg.input.split(",") if p.strip()]


def validate(cfg: Config) -> list[str]:
    """Settings that cannot work, one line each; returns the input paths."""
    from utils.config import check_choice
    from utils.errors import UserError
    check_choice("task", cfg.task, ("transparency", "watermark"))
    check_choice("weights", cfg.weights, ("sparse", "learned"))
    check_choice("mix", cfg.mix, ("constant", "map"))
    check_choice("mark", cfg.mark, ("colour", "free"))
    check_choice("support", cfg.support, ("detect", "hint"))
    if len(cfg.channels) != len(cfg.skips):
        raise UserError(f"--channels and --skips need the same length ({len(cfg.channels)} vs {len(cfg.skips)})")
    if cfg.iters < 0 or cfg.inpaint_iters < 0 or cfg.max_side < 16:
        raise UserError("--iters and --inpaint_iters must be at least 0 and --max_side at least 16")
    paths = input_paths(cfg)
    if not paths:
        raise UserError("--input is empty: give an image (or several joined by commas)")
    if cfg.task == "transparency" and len(paths) > 2:
        raise UserError(f"--task=transparency takes one mixture or two of the same layers, not {len(paths)}")
    if cfg.task == "watermark" and cfg.iters <= cfg.inpaint_iters:
        raise UserError(f"--iters={cfg.iters} must exceed --inpaint_iters={cfg.inpaint_iters}: the mark is "
                        "fitted after the inpainting iterations")
    if (cfg.task == "transparency" and (len(paths) == 1 or cfg.weights == "learned" or cfg.mix == "map")
            and cfg.iters < 1):
        raise UserError("--iters=0 only works for two mixtures with --weights=sparse and --mix=constant")
    return paths


def centre_crop(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    y, x = (img.shape[0] - shape[0]) // 2, (img.shape[1] - shape[1]) // 2
    return img[y:y + shape[0], x:x + shape[1]]


def load_inputs(paths: list[str]) -> tuple[list[np.ndarray], bool]:
    """The images, centre-cropped to their common size (a mark is placed from the centre, as on stock
    photos); whether any was cropped."""
    from utils.errors import UserError
    from utils.image_io import load_image
    images = [load_image(p) for p in paths]
    shape = (min(i.shape[0] for i in images), min(i.shape[1] for i in images))
    if min(shape) < 16:
        raise UserError(f"an input image is too small ({shape[1]}x{shape[0]} in common): need at least 16x16 pixels")
    return [centre_crop(i, shape) for i in images], any(i.shape[:2] != shape for i in images)


def load_hint(cfg: Config, first: str, shape: tuple[int, int], several: bool) -> tuple[str, np.ndarray]:
    """The watermark hint (1 = the mark may be here), centre-cropped to the images' size; all ones with
    HINT="" (several images only: one image and no hint leaves nothing to tell the mark from the photo)."""
    from utils.errors import UserError
    from utils.image_io import beside, load_grey
    path = beside(first, "_hint.png") if cfg.hint == "auto" else cfg.hint
    if not path:
        if not several:
            raise UserError("--task=watermark with one image needs a hint of the mark's area (--hint=mask.png, "
                            "white where the mark may be), or give several images with the same mark")
        return "", np.ones(shape, np.float32)
    hint = load_grey(path, "watermark hint (--hint)")
    if hint.shape[0] < shape[0] or hint.shape[1] < shape[1]:
        raise UserError(f"--hint is {hint.shape[1]}x{hint.shape[0]}, smaller than the images ({shape[1]}x{shape[0]})")
    hint = (centre_crop(hint, shape) > 0.5).astype(np.float32)
    if not hint.any():
        raise UserError(f"--hint={path} is all black: paint the mark's area white")
    return str(path), hint


def load_truth(cfg: Config, paths: list[str], shape: tuple[int, int], cropped: bool) -> list[np.ndarray] | None:
    """The true layers (transparency) or clean images (watermark) at the inputs' size, or None."""
    from utils.errors import UserError
    from utils.image_io import beside, load_image
    if cfg.gt == "auto":
        if cfg.task == "transparency":
            found = [beside(paths[0], f"_layer{k}.png") for k in (1, 2)]
        else:
            found = [beside(p, "_gt.png") for p in paths]
        if not all(found):
            return None
        files = [str(p) for p in found]
    elif cfg.gt:
        files = [p.strip() for p in cfg.gt.split(",")]
    else:
        return None
    want = 2 if cfg.task == "transparency" else len(paths)
    if len(files) != want:
        raise UserError(f"--gt names {len(files)} image(s); give {want} (joined by commas)")
    truth = [load_image(f, "ground-truth image (--gt)") for f in files]
    if any(t.shape[:2] != shape for t in truth) and not cropped or any(
            t.shape[0] < shape[0] or t.shape[1] < shape[1] for t in truth):
        raise UserError(f"--gt images must be {shape[1]}x{shape[0]} like the input")
    return [centre_crop(t, shape) for t in truth]


def separation_settings(cfg: Config):  # -> net.separate.SeparateSettings
    from net.separate import SeparateSettings
    from utils.config import settings_from
    return settings_from(SeparateSettings, cfg)


def score_layers(layers: list[np.ndarray], truth: list[np.ndarray], mixtures: list[np.ndarray]
                 ) -> tuple[list[np.ndarray], dict]:
    """The layers in the order of the truth (the better assignment), their PSNR/SSIM, and the mixtures'
    (the baseline of doing nothing: for each true layer, the mixture closest to it)."""
    from utils.metrics import psnr, ssim
    p = [[psnr(layer, t) for t in truth] for layer in layers]  # p[i][j]: layer i against true layer j
    if p[0][1] + p[1][0] > p[0][0] + p[1][1]:
        layers, p = layers[::-1], p[::-1]
    scores = {}
    for k, (layer, t) in enumerate(zip(layers, truth, strict=True)):
        mix_psnr, best_mix = max(((psnr(m, t), m) for m in mixtures), key=lambda pm: pm[0])
        scores[f"layer{k + 1}"] = {"psnr_gt": p[k][k], "ssim_gt": ssim(layer, t),
                                   "mixture_psnr_gt": mix_psnr, "mixture_ssim_gt": ssim(best_mix, t)}
    return layers, scores


def flat_layer(layers: list[np.ndarray], collapsed: float) -> tuple[float, int | None]:
    """The ratio of the weaker layer's mean gradient magnitude to the stronger's, and the weaker layer (1 or
    2) when that ratio is below `collapsed`: one layer DIP took the whole mixture and the other went flat."""
    edges = [float(np.abs(np.diff(x, axis=0)).mean() + np.abs(np.diff(x, axis=1)).mean()) for x in layers]
    ratio = min(edges) / max(max(edges), 1e-12)
    return ratio, (int(np.argmin(edges)) + 1 if ratio < collapsed else None)


def run_transparency(cfg: Config, run_cfg: Config, device, images: list[np.ndarray],
                     truth: list[np.ndarray] | None, run_dir: Path) -> tuple[dict, list[str], bool]:
    from net.separate import sparse_weights, unmix
    from utils.image_io import save_image
    from utils.plotting import side_by_side
    report, record = [], {}
    if len(images) == 2 and cfg.weights == "sparse" and cfg.mix == "constant":
        t0 = time.time()
        weights = sparse_weights(images)
        layers, stopped, maps = unmix(images, weights), "done", None
        record.update(iterations=0, method="sparse weights, exact unmixing", time_s=time.time() - t0)
    else:
        from net.separate import separate
        r = separate(images, separation_settings(run_cfg), device)
        layers, weights, maps, stopped = r.layers, r.weights, r.weight_maps, r.loop.stopped
        record.update(iterations=r.loop.iterations, stopped=stopped, reconstruction_psnr=r.loop.best_psnr,
                      best_iteration=r.loop.best_step, method="two layer DIPs", time_s=r.time_s)
    if truth is not None:
        layers, scores = score_layers(layers, truth, images)
        record["scores"] = scores
        for k in (1, 2):
            s = scores[f"layer{k}"]
            report.append(f"layer {k}: PSNR {s['psnr_gt']:.2f} dB, SSIM {s['ssim_gt']:.3f} (best mixture "
                          f"{s['mixture_psnr_gt']:.2f} dB, {s['mixture_ssim_gt']:.3f})")
    for k, layer in enumerate(layers, 1):
        save_image(run_dir / f"layer{k}.png", layer)
    if len(images) == 1:
        record["edge_ratio"], flat = flat_layer(layers, cfg.collapsed)
        if flat is not None:
            report.append(f"warning: layer {flat} came out nearly flat (edge ratio {record['edge_ratio']:.3f}): the "
                          "other took the whole mixture. One mixture is hard for the DIPs at a few hundred "
                          "iterations; two shots of the same scene with different reflections split exactly")
    if weights is not None:
        record["weights"] = weights
        report.insert(0, "mixing weights " + ", ".join(f"{w:.3f}" for w in weights))
    elif maps is not None:
        for k, m in enumerate(maps, 1):
            save_image(run_dir / f"weight{k}.png", m)
        record["weights_mean"] = [float(m.mean()) for m in maps]
    panels = list(images) + layers + (truth or [])
    titles = [f"mixture {k}" for k in range(1, len(images) + 1)] + ["layer 1", "layer 2"] + \
        (["true layer 1", "true layer 2"] if truth else [])
    side_by_side(panels, titles, run_dir / "figure.png")
    return record, report, stopped == "interrupted"


def run_watermark(cfg: Config, run_cfg: Config, device, images: list[np.ndarray], paths: list[str],
                  truth: list[np.ndarray] | None, run_dir: Path, hint_path: str, hint: np.ndarray
                  ) -> tuple[dict, list[str], bool]:
    from net.separate import remove_watermark
    from utils.image_io import save_image
    from utils.metrics import psnr, ssim
    from utils.plotting import side_by_side
    from utils.watermark import mark_support
    support = mark_support(images, hint) if cfg.support == "detect" else hint
    save_image(run_dir / "support.png", support)
    r = remove_watermark(images, support, separation_settings(run_cfg), device)
    opacity = r.weight_maps[0]
    names = [Path(p).stem for p in paths]
    for name, clean in zip(names, r.layers, strict=True):
        save_image(run_dir / f"{name}_clean.png", clean)
    save_image(run_dir / "mark.png", r.mark * opacity[:, :, None])
    save_image(run_dir / "opacity.png", opacity)
    record = {"hint": hint_path, "hint_fraction": float(hint.mean()), "support_fraction": float(support.mean()),
              "iterations": r.loop.iterations,
              "stopped": r.loop.stopped, "reconstruction_psnr": r.loop.best_psnr, "best_iteration": r.loop.best_step,
              "time_s": r.time_s, "opacity_max": float(opacity.max())}
    report = [f"{len(images)} image(s), {r.loop.iterations} iterations, reconstruction PSNR {r.loop.best_psnr:.2f} dB"]
    if truth is not None:
        scores = [{"image": n, "psnr_gt": psnr(c, t), "ssim_gt": ssim(c, t), "input_psnr_gt": psnr(i, t),
                   "input_ssim_gt": ssim(i, t)} for n, c, t, i in zip(names, r.layers, truth, images, strict=True)]
        record["scores"] = scores
        record["mean_psnr_gt"] = float(np.mean([s["psnr_gt"] for s in scores]))
        record["mean_ssim_gt"] = float(np.mean([s["ssim_gt"] for s in scores]))
        for s in scores:
            report.append(f"{s['image']}: PSNR {s['psnr_gt']:.2f} dB, SSIM {s['ssim_gt']:.3f} (input "
                          f"{s['input_psnr_gt']:.2f} dB, {s['input_ssim_gt']:.3f})")
        if any(s["psnr_gt"] < s["input_psnr_gt"] for s in scores):
            report.append("warning: a cleaned image scores below its input; watermark removal is experimental "
                          "(more --iters, or several images with the same mark, may help)")
    panels = list(images[:3]) + list(r.layers[:3]) + [(hint + support) / 2, r.mark * opacity[:, :, None]]
    titles = [f"input {k}" for k in range(1, len(panels[:min(3, len(images))]) + 1)] + \
        [f"clean {k}" for k in range(1, min(3, len(images)) + 1)] + ["hint (grey), mark found (white)",
                                                                      "mark × opacity"]
    side_by_side(panels, titles, run_dir / "figure.png")
    return record, report, r.loop.stopped == "interrupted"


def run(cfg: Config, paths: list[str]) -> RunResult:
    """One separation as `cfg` says; every output goes to a fresh run folder."""
    from net import precision
    from utils.device import environment, pick_device, seed_everything, threads_used
    from utils.run_folder import finish_run, new_run_dir
    images, cropped = load_inputs(paths)
    truth = load_truth(cfg, paths, images[0].shape[:2], cropped)
    device = pick_device(cfg.device)
    run_cfg = cfg.replace(precision=precision.resolve(cfg.precision, device))
    if cfg.task == "watermark":  # the hint is read (and checked) before the run folder exists
        hint_path, hint = load_hint(cfg, paths[0], images[0].shape[:2], len(images) > 1)
    seed_everything(cfg.seed)
    h, w = images[0].shape[:2]
    run_dir = new_run_dir(cfg.output_dir, f"{cfg.task}_{Path(paths[0]).stem}", (4 + 2 * len(images)) * h * w * 3)
    print(f"{cfg.task}: {len(images)} image(s) of {w}x{h} ({', '.join(paths)}) on {device}"
          + ("; centre-cropped to their common size" if cropped else ""))
    start = time.time()
    if cfg.task == "transparency":
        record, report, interrupted = run_transparency(cfg, run_cfg, device, images, truth, run_dir)
    else:
        record, report, interrupted = run_watermark(cfg, run_cfg, device, images, paths, truth, run_dir, hint_path,
                                                    hint)
    return finish_run(run_dir, {
        "script": "separation.py", "task": cfg.task, "config": cfg.as_dict(), "environment": environment(),
        "device": str(device), "precision": run_cfg.precision, "seed": cfg.seed, "threads": threads_used()[0],
        "inputs": paths, "size": [w, h], "cropped_to_common_size": cropped, **record},
        report, interrupted, time.time() - start)


def main(argv: list[str] | None = None) -> RunResult:
    """The command line: settings from the constants above and `argv`."""
    from utils.config import configure
    from utils.device import cpu_share
    cfg = configure(globals(), argv)
    paths = validate(cfg)
    with cpu_share(cfg.threads):
        return run(cfg, paths)


if __name__ == "__main__":
    from utils.cli import cli
    cli(main)
