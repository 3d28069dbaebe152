"""Image segmentation with coupled Deep Image Priors (Double-DIP and the paper's three-layer systems).

A single image is split into layers with no training data: layer DIPs and a mask DIP are fitted
jointly so that the layers, mixed by the mask, rebuild the image; hints say where each layer is.

    python segmentation.py                                   # bundled sample, two layers
    python segmentation.py --input=photo.jpg --fg_hint=fg.png --bg_hint=bg.png
    python segmentation.py --input=photo.jpg --hints=saliency
    python segmentation.py --preset=paper --device=cuda      # the paper's mask and iterations, one GPU

Every UPPER_CASE constant below is a setting: edit it here or override it as --lower_case=value
(`--help` lists them). Each run writes a fresh folder under OUTPUT_DIR and prints its path last.
One process uses one device; on a machine with several GPUs run one image per GPU, e.g.
`CUDA_VISIBLE_DEVICES=1 python segmentation.py --input=b.jpg &` (video dehazing scales with torchrun).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from utils.config import Config
from utils.run_folder import RunResult

# --- input and hints
INPUT = ""  # image to segment (PNG, JPEG, TIFF, BMP), a folder or a glob of them; "" = the bundled sample for LAYERS
SAMPLES = {2: "images/horse_grass_brick.png", 3: "images/three_regions.png"}  # bundled samples
HINTS = "auto"  # auto (X_fg_hint.png etc. beside the input, else histogram), histogram, saliency, saliency_fine
FG_HINT = ""  # foreground hint mask (white = foreground), any size; overrides the automatic one
BG_HINT = ""  # background hint mask
MG_HINT = ""  # middle-ground hint mask (three layers)
BOX = ""  # x0,y0,x1,y1 around the object (pixels, or fractions of the size): outside is background
BOX_ROUNDS = 10  # with a box: GrabCut iterations (OpenCV; 10, as its box mode is usually run)
BOX_STARTS = 7  # with a box: GrabCut starts (the box's inner frame 0, 5 ... 30% as background), lowest energy kept
TRUTH = "auto"  # label/mask image to score IoU against (auto: X_truth.png beside the input, "" = none)
TRUTH_TOLERANCE = 8  # 3+ layers: the truth's greys may be this far (of 255) from the layers' levels
# --- system
DIP = True  # fit the layer and mask nets; false: nets off, the cut's classical terms alone (colours, band, edges)
LAYERS = 2  # number of layers: 2 (foreground/background) or more
METHOD = "system"  # system: Double-DIP (2 layers) or 3 pairwise Double-DIPs fused; multi: one softmax-mask model
FUSION = "vote"  # fusion of the system's pairwise runs: vote (majority) or paper (disagreement = middle)
CHANNELS = [8, 16, 32]  # per-scale channels of every net (the paper's [8, 16, 32], no skips)
INPUT_DEPTH = 2  # channels of each net's noise input
MASK_INPUT = "texture"  # mask: texture (classifier of local texture statistics), or a DIP fed noise or the image
GABOR = False  # texture mask: add Gabor filter-bank energies (4 orientations x 3 wavelengths) to its statistics
MASK_HINT_WEIGHT = 1.0  # step 2: weight of the mask's agreement with the hints on hinted pixels
REG_NOISE = 0.0  # std of the per-iteration jitter of the noise inputs
# --- optimisation
STEP1_ITERS = 80  # step 1: layers fit inside their hints, mask fits the hints (the cut's labels need no more)
MULTI_ITER_FACTOR = 3.0  # METHOD=multi, 3+ layers: step 1 runs STEP1_ITERS x this (one softmax mask, N layers)
STEP2_ITERS = 0  # step 2: reconstruction, hints for a while, increasing mask sharpening (the cut labels need none)
HINT_ITERS = 300  # step-2 iterations that keep the hint losses
AUTO_STEP2_ITERS = 150  # automatic hints (histogram, saliency): step-2 iterations instead, held to the hints nowhere
# (they mix objects of one grey level): the nets learn from the reconstruction, the cut its colours from the mask
SHARPEN_WEIGHT = 0.02  # weight of the binarisation (2 layers) or entropy (softmax) loss at full ramp
SHARPEN_RAMP = 300  # step-2 iterations over which that weight ramps up from 0
EXCLUSION_WEIGHT = 0.0  # gradient exclusion loss between layers (0 = off)
PSNR_TARGET = 0.0  # stop step 2 once the reconstruction reaches this PSNR in dB (0 = never)
LR = 0.003  # Adam learning rate (the paper: 0.001)
COARSE = 0.0  # coarse-to-fine: share of each step's iterations run first at half the working size (about 4x cheaper)
MAX_SIDE = 200  # working resolution: longest side in pixels (outputs are always full size)
GUIDED_RADIUS = 0.01  # guided-filter radius as a fraction of the longest side
GUIDED_EPS = 0.001  # guided-filter regularisation
CUT = True  # two layers: labels from the exact min cut of the layered energy below (else the refined mask at 0.5)
CUT_LAYERS = 6.0  # weight of each layer's reconstruction error in it (which layer explains the pixel)
CUT_COLOUR = 0.5  # weight of the hints' colour models (GrabCut's Gaussian mixtures)
CUT_MASK = 0.3  # weight of the mask's log-probabilities
CUT_SMOOTH = 50.0  # weight of the boundary term (GrabCut's: cheap across image edges)
CUT_BAND = 30.0  # weight of a narrow band's middle: between close fg and bg hints the edge is likely mid-way
CUT_MAX_SIDE = 800  # the cut's resolution (longest side in pixels); larger photos get its labels guided-filtered
# --- run
PRESET = ""  # long: 250 + 750 step-2 iterations (17x the time); paper: its noise-fed mask, lr, 2000 + 4000
DEVICE = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps
PRECISION = "auto"  # nets' convolutions: auto (bf16 where the CPU/GPU has it, else fp32), fp32, bf16
CUDA_GRAPH = True  # on CUDA: capture one iteration as a CUDA graph and replay it (same computation, fewer launches)
SEED = 0  # random seed (CPU runs repeat exactly)
OUTPUT_DIR = "output"  # each run writes a fresh folder here
CHECKPOINT_EVERY = 0  # save nets, optimiser, inputs, RNG and iteration every N iterations (0 = off)
RESUME = ""  # a checkpointed run's folder to continue, with its settings (the result goes to a fresh folder)
PROGRESS = True  # show progress bars
THREADS = 0  # CPU threads (0 = this run's share of the cores among the runs alive on this machine)

PRESETS = {"long": {"step1_iters": 250, "step2_iters": 750, "hint_iters": 300},
           "paper": {"step1_iters": 2000, "step2_iters": 4000, "hint_iters": 1000, "sharpen_ramp": 1000,
                     "auto_step2_iters": 4000,
                     "max_side": 800, "mask_input": "noise", "lr": 0.001,
                     "multi_iter_factor": 1.0}}


def resolve_hints(cfg: Config, image: np.ndarray, n: int
                  ) -> tuple[list[str], list[np.ndarray], list[np.ndarray], tuple[int, int, int, int] | None]:
    """Hints in layer order (fg first) from HINTS, the user's masks and BOX, as (names, the hints the nets
    learn from, the hints the labels keep, the box in pixels or None). X_fg_hint.png etc. and X_box.txt
    beside the input are used automatically with HINTS=auto. The user's masks are sure; automatic hints
    (histogram, saliency) are guesses: the nets learn from them, the labels may overrule them. A box fixes
    its outside as background and lets the foreground layer learn from its inside (classical.hints.box_hints)."""
    from classical.hints import box_hints, layer_names, make_hints, parse_box, validate_hints
    from utils.errors import UserError
    from utils.image_io import beside, load_mask
    names = layer_names(n)
    user = {"fg": cfg.fg_hint, "bg": cfg.bg_hint, "mg": cfg.mg_hint}
    box = cfg.box
    method = cfg.hints
    if cfg.hints == "auto":
        found = {k: beside(cfg.input, f"_{k}_hint.png") for k in names}
        if all(found.values()):
            user = {k: user.get(k) or str(found[k]) for k in names}
        box_file = beside(cfg.input, "_box.txt")
        if not box and box_file:
            box = box_file.read_text().strip()
        method = "histogram"
    if not box:
        mine = {k: v for k, v in user.items() if k in names and v}
        hints = make_hints(image, method, n, mine)
        return names, [hints[k] for k in names], [hints[k] if k in mine else 0 * hints[k] for k in names], None
    if n != 2:
        raise UserError("--box marks one object: it needs --layers=2 (give masks for three layers)")
    shape = image.shape[:2]
    pixels = parse_box(box, shape)
    learn_fg, learn_bg, sure_bg = box_hints(shape, pixels)
    given = {k: load_mask(v, shape, f"{k} hint mask") for k, v in user.items() if k in names and v}
    validate_hints(given)
    sure_fg = given.get("fg", np.zeros(shape, np.float32))
    if "bg" in given:
        sure_bg = np.maximum(sure_bg, given["bg"])
        learn_bg = np.maximum(learn_bg, given["bg"])
    learn_fg = np.maximum(learn_fg * (1 - sure_bg), sure_fg)
    sure_bg *= 1 - sure_fg  # a foreground stroke outside the box wins: the user drew it
    learn_bg *= 1 - sure_fg
    validate_hints({"fg": learn_fg, "bg": learn_bg})
    return names, [learn_fg, learn_bg], [sure_fg, sure_bg], pixels


def resolve_truth(cfg: Config, shape: tuple[int, int], n: int) -> np.ndarray | None:
    """Ground-truth labels (0 = background ... n-1 = foreground) for IoU, or None. Labels are evenly spaced
    grey levels (0 = background ... 255 = foreground; three layers: 0, 128, 255). Two layers threshold the
    grey at half; with three or more, a grey more than TRUTH_TOLERANCE from every level is refused (a truth
    made for another layer count, or a JPEG's blur), never silently rounded."""
    import cv2

    from utils.errors import UserError
    from utils.image_io import beside, load_grey
    path = beside(cfg.input, "_truth.png") if cfg.truth == "auto" else cfg.truth
    if not path:
        return None
    grey = load_grey(path, "truth image")
    if grey.shape != shape:
        grey = cv2.resize(grey, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    labels = np.clip(np.rint(grey * (n - 1)), 0, n - 1)
    if n > 2:
        off = np.abs(grey * (n - 1) - labels) * 255 / (n - 1)
        if (off > cfg.truth_tolerance).any():
            levels = np.unique(np.rint(grey[off > cfg.truth_tolerance] * 255).astype(int))[:6]
            raise UserError(f"truth image {path} has grey levels {levels.tolist()} between the {n} layers' "
                            f"levels {np.rint(np.linspace(0, 255, n)).astype(int).tolist()}: save the labels "
                            "as exactly those greys (PNG)")
    return labels.astype(np.uint8)


def output_bytes(cfg: Config, shape: tuple[int, int]) -> int:
    """An upper bound on the PNGs a run writes (uncompressed RGB): input, overlays and masks, and per
    layer its layer, hint and soft mask, three times over for the pairwise system."""
    pairs = 3 if cfg.layers == 3 and cfg.method == "system" else 1
    return (6 + 3 * cfg.layers * pairs) * shape[0] * shape[1] * 3


def save_layers(run_dir: Path, names: list[str], hints: list[np.ndarray], seg, save=None) -> None:
    """Every layer, soft mask channel and hint of one segmentation (written by `save`, else save_image)."""
    from utils.image_io import save_image
    write = save or save_image
    for name, layer, soft, hint in zip(names, seg.layers, seg.soft, hints, strict=True):
        write(run_dir / f"{name}_layer.png", layer)
        write(run_dir / f"{name}_hint.png", hint)
        if len(names) > 2:
            write(run_dir / f"{name}_soft_mask.png", soft)


def step_summary(seg) -> dict:
    return {k: {"iterations": r.iterations, "stopped": r.stopped, "best_psnr": r.best_psnr,
                "best_iteration": r.best_step} for k, r in seg.steps.items()}


PAIRS = {("fg", "bg"): (2, 0), ("mg", "bg"): (1, 0), ("fg", "mg"): (2, 1)}  # the system's runs: their labels


class Job:
    """One image's segmentation: its settings, device, image, hints (fg first), the hints its labels keep
    (resolve_hints: the user's, not automatic ones), truth, run folder and box (its hints are in both)."""

    def __init__(self, cfg: Config, device, image: np.ndarray, names: list[str], hints: list[np.ndarray],
                 fixed: list[np.ndarray], truth: np.ndarray | None, run_dir: Path,
                 box: tuple[int, int, int, int] | None) -> None:
        self.cfg, self.device, self.image = cfg, device, image
        self.names, self.hints, self.fixed, self.box = names, hints, fixed, box
        self.truth, self.run_dir = truth, run_dir

    def settings(self, fixed: list[np.ndarray], **extra: object):  # -> net.segment.SegmentSettings
        """The nets' settings for hints whose sure part is `fixed`: none sure (automatic hints, guesses by grey
        level or saliency) runs AUTO_STEP2_ITERS of step 2 held to the hints nowhere."""
        from classical.hints import guesses_only
        from net.segment import SegmentSettings
        from utils.config import settings_from
        if guesses_only(fixed):
            extra = {"step2_iters": self.cfg.auto_step2_iters, "hint_iters": 0, "mask_hint_weight": 0.0, **extra}
        return settings_from(SegmentSettings, self.cfg, **extra)

    def labels(self, hints: list[np.ndarray], fixed: list[np.ndarray], **extra: object) -> np.ndarray:
        """The labels (0 = the first hint's layer) of one segmentation, nothing written."""
        from net.segment import segment
        box = self.box is not None
        return segment(self.image, hints, self.settings(fixed, cut_rounds=self.cfg.box_rounds if box else 1,
                                                        cut_starts=self.cfg.box_starts if box else 1, **extra),
                       self.device, fixed).labels

    def nets_off(self) -> np.ndarray:
        """The label map (0 = background ... n-1 = foreground) of this run with no nets (--dip=false): the
        control a scored run reports beside its own score. Cheap: the cut alone."""
        from net.segment import fuse_paper, fuse_vote
        n = self.cfg.layers
        if n == 2 or self.cfg.method == "multi":
            return (n - 1 - self.labels(self.hints, self.fixed, dip=False)).astype(np.uint8)
        h, f = dict(zip(self.names, self.hints, strict=True)), dict(zip(self.names, self.fixed, strict=True))
        masks = {labs: (self.labels([h[a], h[b]], [f[a], f[b]], dip=False) == 0).astype(np.float32)
                 for (a, b), labs in PAIRS.items()}
        return fuse_vote(masks) if self.cfg.fusion == "vote" else fuse_paper(masks)

    def two_layer(self, names: list[str], hints: list[np.ndarray], fixed: list[np.ndarray], run_dir: Path,
                  truth: np.ndarray | None, softmax: bool = False, tag: str = "") -> tuple[object, dict]:
        """One Double-DIP run (fg vs bg, the labels keeping `fixed`); writes its outputs to run_dir; returns
        (segmentation, summary)."""
        from net.segment import segment
        from utils.image_io import BackgroundWriter
        from utils.metrics import iou
        from utils.plotting import overlay, plot_curves
        box = self.box is not None  # (a box needs two layers)
        seg = segment(self.image, hints, self.settings(fixed, softmax=softmax, name=tag or "double-dip",
                                                       cut_rounds=self.cfg.box_rounds if box else 1,
                                                       cut_starts=self.cfg.box_starts if box else 1),
                      self.device, fixed)
        fg = seg.labels == 0
        with BackgroundWriter() as save:  # the PNGs are compressed while the curves are drawn
            save_layers(run_dir, names, hints, seg, save)
            save(run_dir / "soft_mask.png", seg.soft[0])
            save(run_dir / "refined_mask.png", seg.refined[0])
            save(run_dir / "mask.png", fg.astype(np.uint8) * 255)
            save(run_dir / "overlay.png", overlay(self.image, fg.astype(np.uint8) * 2))
            plot_curves({k: r.history for k, r in seg.steps.items()}, run_dir / "curves.png")
        summary = {"steps": step_summary(seg), "interrupted": seg.interrupted,
                   "foreground_fraction": float(fg.mean())}
        if truth is not None:
            summary["iou_fg"] = iou(fg, truth == 1)
            summary["iou_fg_raw_mask"] = iou(seg.soft[0] > 0.5, truth == 1)
            summary["iou_fg_hint_only"] = iou(hints[0] > 0, truth == 1)
        return seg, summary

    def three_layer_system(self) -> dict:
        """The paper's first technique: three pairwise Double-DIPs, (fg, bg), (mg, bg) and (fg, mg), each in
        its own sub-folder, fused into one label map (2 = fg, 1 = mg, 0 = bg)."""
        from net.segment import fuse_paper, fuse_vote
        from utils.image_io import save_image
        h, f = dict(zip(self.names, self.hints, strict=True)), dict(zip(self.names, self.fixed, strict=True))
        masks, runs, layers = {}, {}, {}
        for (a, b), labs in PAIRS.items():
            sub = self.run_dir / f"pair_{a}_{b}"
            sub.mkdir()
            seg, runs[f"{a}_{b}"] = self.two_layer([a, b], [h[a], h[b]], [f[a], f[b]], sub, None, tag=f"{a} vs {b}")
            masks[labs] = (seg.labels == 0).astype(np.float32) if self.cfg.cut else seg.refined[0]
            for name, layer in zip((a, b), seg.layers, strict=True):
                layers.setdefault(name, layer)  # fg and bg from the (fg, bg) run, mg from (mg, bg)
            if seg.interrupted:
                break
        if len(masks) < 3:
            labels = np.where(masks[(2, 0)] > 0.5, 2, 0).astype(np.uint8)
        else:
            labels = fuse_vote(masks) if self.cfg.fusion == "vote" else fuse_paper(masks)
        for name, layer in layers.items():
            save_image(self.run_dir / f"{name}_layer.png", layer)
        summary = {"pairwise_runs": runs, "fusion": self.cfg.fusion,
                   "interrupted": any(r["interrupted"] for r in runs.values()), "steps": {}}
        return {**summary, **self.label_outputs(labels, 3, masks[(2, 0)] > 0.5)}

    def multi_layer(self) -> dict:
        """The paper's proposed technique: K layer DIPs and one softmax mask."""
        from net.segment import segment
        from utils.plotting import plot_curves
        n = self.cfg.layers
        iters = round(self.cfg.step1_iters * self.cfg.multi_iter_factor)
        seg = segment(self.image, self.hints, self.settings(self.fixed, softmax=True, name=f"{n}-layer",
                                                            step1_iters=iters),
                      self.device, self.fixed)
        labels = (n - 1 - seg.labels).astype(np.uint8)
        save_layers(self.run_dir, self.names, self.hints, seg)
        plot_curves({k: r.history for k, r in seg.steps.items()}, self.run_dir / "curves.png")
        summary = {"steps": step_summary(seg), "interrupted": seg.interrupted}
        return {**summary, **self.label_outputs(labels, n, labels == n - 1)}

    def label_outputs(self, labels: np.ndarray, n: int, two: np.ndarray) -> dict:
        """labels.png (0 = background ... n-1 = foreground), labels_vis.png (foreground black, background
        white), a colour overlay and figure.png (original | two-layer | n-layer)."""
        from utils.image_io import save_image
        from utils.metrics import per_class_iou
        from utils.plotting import overlay, side_by_side
        save_image(self.run_dir / "labels.png", labels)
        vis = 1.0 - labels.astype(np.float32) / (n - 1)
        save_image(self.run_dir / "labels_vis.png", vis)
        save_image(self.run_dir / "overlay.png", overlay(self.image, labels))
        side_by_side([self.image, 1.0 - two.astype(np.float32), vis],
                     ["original", "two-layer segmentation", f"{n}-layer segmentation"], self.run_dir / "figure.png")
        summary: dict = {"label_fractions": [float((labels == k).mean()) for k in range(n)]}
        if self.truth is not None:
            ious = per_class_iou(labels, self.truth, n)
            hint_labels = np.full(labels.shape, 255, np.uint8)
            for k, h in enumerate(self.hints):  # hint k is layer k from the foreground: label n-1-k
                hint_labels[h > 0] = n - 1 - k
            baseline = per_class_iou(hint_labels, self.truth, n)
            summary.update(iou_per_label=ious, mean_iou=float(np.mean(ious)),
                           mean_iou_hint_only=float(np.mean(baseline)))
        return summary


def nets_off_scores(labels: np.ndarray, truth: np.ndarray, n: int) -> dict:
    """The nets-off control's scores, named as the run's own with `_nets_off`."""
    from utils.metrics import iou, per_class_iou
    if n == 2:
        return {"iou_fg_nets_off": iou(labels == 1, truth == 1)}
    return {"mean_iou_nets_off": float(np.mean(per_class_iou(labels, truth, n)))}


def validate(cfg: Config) -> None:
    """Settings that cannot work: one line each."""
    from utils.config import check_choice
    from utils.errors import UserError
    if cfg.layers < 2:
        raise UserError(f"--layers={cfg.layers}: need at least 2 layers")
    check_choice("mask_input", cfg.mask_input, ("noise", "image", "texture"))
    check_choice("method", cfg.method, ("system", "multi"))
    check_choice("fusion", cfg.fusion, ("vote", "paper"))
    if not cfg.dip and not cfg.cut:
        raise UserError("--dip=false takes its labels from the cut: keep --cut=true")
    if cfg.layers > 3 and cfg.method == "system":
        raise UserError("--method=system fuses three pairwise runs, so it needs --layers=3; use --method=multi")
    if not 0 <= cfg.coarse <= 1:
        raise UserError(f"--coarse={cfg.coarse}: give the share of each step's iterations run at half size, "
                        "from 0 to 1")
    if len(cfg.channels) < 1 or min(cfg.channels) < 1:
        raise UserError(f"--channels={cfg.channels}: give a list of positive channel counts, e.g. [8,16,32]")
    if cfg.box_rounds < 1 or cfg.box_starts < 1:
        raise UserError(f"--box_rounds={cfg.box_rounds}, --box_starts={cfg.box_starts}: give counts of at least 1")
    if cfg.multi_iter_factor <= 0:
        raise UserError(f"--multi_iter_factor={cfg.multi_iter_factor}: give a positive factor (1 = STEP1_ITERS as set)")
    from utils.batch import check_batch, is_batch
    if is_batch(cfg.input):
        one_file = {f"--{k}": bool(getattr(cfg, k)) for k in ("fg_hint", "bg_hint", "mg_hint", "resume")}
        check_batch(cfg.input, {**one_file, "--truth": cfg.truth not in ("auto", "")},
                    "X_fg_hint.png, X_bg_hint.png, X_box.txt, X_truth.png")


def run(cfg: Config) -> RunResult:
    """Segment one image as `cfg` says; every output goes to a fresh run folder."""
    from classical.hints import guesses_only
    from net import precision
    from utils import checkpoint
    from utils.device import environment, pick_device, seed_everything, threads_used
    from utils.errors import UserError
    from utils.image_io import load_image, save_input_copy
    from utils.run_folder import finish_run, new_run_dir
    image = load_image(cfg.input)
    need = max(4, 2 ** len(cfg.channels) // 2)
    if min(image.shape[:2]) < need:
        raise UserError(f"input image is too small ({image.shape[1]}x{image.shape[0]}): the networks need "
                        f"at least {need} pixels on each side")
    names, hints, fixed, box = resolve_hints(cfg, image, cfg.layers)
    truth = resolve_truth(cfg, image.shape[:2], cfg.layers)
    device = pick_device(cfg.device)
    resolved = precision.resolve(cfg.precision, device)
    seed_everything(cfg.seed)
    run_dir = new_run_dir(cfg.output_dir, f"seg{cfg.layers}_{cfg.method}_{Path(cfg.input).stem}",
                          output_bytes(cfg, image.shape[:2]))
    meta = {"script": "segmentation.py", "config": cfg.as_dict(), "threads": threads_used()[0]}
    checkpoint.start(run_dir, cfg.checkpoint_every, meta, cfg.resume)
    print(f"segmenting {cfg.input} ({image.shape[1]}x{image.shape[0]}) into {cfg.layers} layers "
          f"({'Double-DIP' if cfg.layers == 2 and cfg.method == 'system' else cfg.method}) on {device}")
    start = time.time()
    save_input_copy(run_dir, image)
    job = Job(cfg.replace(precision=resolved), device, image, names, hints, fixed, truth, run_dir, box)
    report: list[str] = []
    if cfg.layers == 2:
        _, summary = job.two_layer(names, hints, fixed, run_dir, truth, softmax=cfg.method == "multi")
    else:
        summary = job.three_layer_system() if cfg.method == "system" else job.multi_layer()
    if truth is not None:  # the score, beside the same run with no nets and the hints alone
        off = ""
        if cfg.dip and not summary["interrupted"]:
            summary.update(nets_off_scores(job.nets_off(), truth, cfg.layers))
            score = summary["iou_fg_nets_off" if cfg.layers == 2 else "mean_iou_nets_off"]
            off = f"nets off {score:.3f}, "
        if cfg.layers == 2:
            report.append(f"foreground IoU {summary['iou_fg']:.3f} ({off}hints alone "
                          f"{summary['iou_fg_hint_only']:.3f})")
        else:
            report.append(f"mean IoU {summary['mean_iou']:.3f} per label {np.round(summary['iou_per_label'], 3)} "
                          f"({off}hints alone {summary['mean_iou_hint_only']:.3f})")
    return finish_run(run_dir, {
        "script": "segmentation.py", "config": cfg.as_dict(), "environment": environment(), "device": str(device),
        "precision": resolved, "seed": cfg.seed, "input": cfg.input, "input_size": [image.shape[1], image.shape[0]],
        "layers": names, "box": box, "automatic_hints": guesses_only(fixed),
        "resumed_from": cfg.resume or None, **summary},
        report, bool(summary.get("interrupted")), time.time() - start)


def main(argv: list[str] | None = None) -> RunResult:
    """The command line: settings from the constants above and `argv`; one run."""
    from utils.batch import is_batch, run_batch
    from utils.checkpoint import threads_for
    from utils.config import configure
    from utils.device import cpu_share
    cfg = configure(globals(), argv, PRESETS)
    if not cfg.input:
        cfg = cfg.replace(input=SAMPLES.get(cfg.layers, SAMPLES[3]))
    validate(cfg)
    with cpu_share(threads_for(cfg.threads, cfg.resume)):
        if is_batch(cfg.input):
            return run_batch(cfg, "seg", run, batch_metrics)
        return run(cfg)


def batch_metrics(results: dict) -> dict:
    """The columns of a folder run's summary.csv for one image."""
    return {k: round(results[k], 4) for k in ("foreground_fraction", "iou_fg", "mean_iou") if k in results}


if __name__ == "__main__":
    from utils.cli import cli
    cli(main)
