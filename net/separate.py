"""Double-DIP's other decompositions. Transparency: one or two mixtures I_k = α_k·a + (1 − α_k)·b of the same
two layers (a scene seen through glass and its reflection, two overlaid textures), fitted by two layer DIPs
with learned mixing weights and the gradient exclusion loss that keeps their edges apart. Watermark: one
or several images I_k = α·W + (1 − α)·C_k that share one semi-transparent mark (W, α) inside a hinted
area (narrowed to the mark's own pixels by utils.watermark first), fitted by a clean DIP per image and one
mark DIP."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from net import losses
from net.loop import Adam, Knobs, LoopResult, LoopSettings, NoiseSchedule, Problem, Step, optimise
from net.noise import jitter, meshgrid_input, noise_input
from net.precision import autocast
from net.skip import skip
from utils.image_io import crop, pad_to_multiple, resize, to_batch, working_shape

COLOUR_LR_FACTOR = 30.0  # watermark: the mark colour's learning rate, relative to the nets'


@dataclass
class SeparateSettings:
    """How to separate. The fields are separation.py's settings, filled from its constants
    (utils.config.settings_from): their defaults live there only."""
    channels: tuple[int, ...]  # per-scale channels of every net
    skips: tuple[int, ...]  # per-scale skip channels
    input_depth: int  # channels of each net's noise input
    reg_noise: float  # std of the per-iteration jitter of the inputs
    iters: int  # all iterations (watermark: the first inpaint_iters of them fit the clean images only)
    lr: float
    precision: str
    cuda_graph: bool
    max_side: int  # working resolution (longest side)
    progress: bool
    exclusion_weight: float  # transparency: gradient exclusion between the two layers
    mix: str  # transparency: constant (one weight per mixture) or map (a smooth weight map per mixture)
    inpaint_iters: int  # watermark: iterations that fit the clean nets outside the hint before the mark
    opacity_weight: float  # watermark: L1 pull of the mark's opacity towards 0 (a mark covers little of its box)
    mark: str  # watermark: colour (one learned colour, as text and logos are) or free (a mark net's colours)
    opaque: float  # watermark: above this opacity the clean net's image, below it the input with the mark taken out


@dataclass
class Separated:
    """Full-size results: the two layers (transparency) or the clean images (watermark), the mark and its
    opacity (watermark), the mixing weight of each mixture (transparency), and the loop's result."""
    layers: list[np.ndarray]
    loop: LoopResult
    time_s: float
    weights: list[float] | None = None  # transparency with constant weights: α_k of each mixture
    weight_maps: np.ndarray | None = None  # M×H×W: α_k at every pixel (weight maps) or the mark's opacity
    mark: np.ndarray | None = None  # watermark: the mark's colour W (HxWx3), meaningful where the opacity is


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _layer_net(s: SeparateSettings, channels_out: int, groups: int, depth: int | None = None) -> nn.Module:
    return skip(depth or s.input_depth, channels_out, s.channels, s.channels, s.skips, groups=groups)


def _working(images: list[np.ndarray], s: SeparateSettings) -> tuple[tuple[int, int], list[np.ndarray]]:
    work = working_shape(images[0].shape[:2], s.max_side)
    return work, [pad_to_multiple(resize(i, work), 2 ** len(s.channels)) for i in images]


def _to_full(x: torch.Tensor, work: tuple[int, int], full: tuple[int, int]) -> np.ndarray:
    """A C×h×w output of the nets (padded working size) as an HxWxC image at full size, in [0, 1]."""
    arr = crop(x.float().cpu().numpy().transpose(1, 2, 0), work)
    return np.clip(resize(arr, full), 0, 1).astype(np.float32)


def unmix(mixtures: list[np.ndarray], weights: list[float]) -> list[np.ndarray]:
    """The two layers of two mixtures I_k = α_k·a + (1 − α_k)·b with known weights (α_1 ≠ α_2), exactly,
    at the mixtures' own size: the nets find the weights, the pixels come from the mixtures themselves."""
    (i1, i2), (a1, a2) = mixtures, weights
    det = a1 - a2
    a = ((1 - a2) * i1 - (1 - a1) * i2) / det
    b = (a1 * i2 - a2 * i1) / det
    return [np.clip(a, 0, 1).astype(np.float32), np.clip(b, 0, 1).astype(np.float32)]


def _sparsity(x: np.ndarray) -> float:
    """L1/L2 of an image's gradients: scale-free, lowest for an image of few edges (one layer, not a mix)."""
    d = np.concatenate([np.diff(x, axis=0).ravel(), np.diff(x, axis=1).ravel()])
    return float(np.abs(d).mean() / max(np.sqrt((d * d).mean()), 1e-12))


def sparse_weights(mixtures: list[np.ndarray], c_max: float = 8.0, step: float = 0.05) -> list[float]:
    """Mixing weights (α_1, α_2) of two mixtures from the sparsity of the layers' gradients (Farid and
    Adelson's observation: a mix of two photos has more, weaker edges than either). Each layer is an
    extrapolation of the mixtures, a = I_1 + c_a·(I_1 − I_2), b = I_2 + c_b·(I_2 − I_1) with c > 0; each c is
    the lowest interior local minimum of the gradient sparsity along its line (on a grid of `step`, then
    refined ten times finer), and the weights follow: α_1 − α_2 = 1 / (1 + c_a + c_b), α_2 = c_b·(α_1 − α_2).
    Falls back to (0.6, 0.4) where a line has no interior minimum (nearly equal mixtures)."""
    i1, i2 = (m.astype(np.float32) for m in mixtures)

    def best(x: np.ndarray, y: np.ndarray) -> float | None:
        cs = np.arange(0.0, c_max + step / 2, step)
        g = np.array([_sparsity(x + c * (x - y)) for c in cs])
        interior = [k for k in range(1, len(cs) - 1) if g[k] <= g[k - 1] and g[k] <= g[k + 1]]
        if not interior:
            return None
        k = min(interior, key=lambda k: g[k])
        fine = np.linspace(cs[k - 1], cs[k + 1], 21)
        return float(fine[np.argmin([_sparsity(x + c * (x - y)) for c in fine])])

    ca, cb = best(i1, i2), best(i2, i1)
    if ca is None or cb is None:
        return [0.6, 0.4]
    d = 1.0 / (1.0 + ca + cb)
    return [float(np.clip(cb * d + d, 0.02, 0.98)), float(np.clip(cb * d, 0.02, 0.98))]


def separate(mixtures: list[np.ndarray], s: SeparateSettings, device: torch.device) -> Separated:
    """Transparency separation of one or two mixtures (HxWx3 in [0, 1], the same size) into two layers.

    Two layer DIPs (one grouped net) a, b and per-mixture weights α_k (a learned constant, or a smooth map
    from a DIP fed a coordinate grid) minimise Σ_k ‖α_k·a + (1 − α_k)·b − I_k‖² + λ·exclusion(a, b). With
    two mixtures and constant weights the layers are then recovered exactly from the mixtures at full size
    (`unmix`); otherwise the nets' layers are carried to full size."""
    start = time.time()
    full = mixtures[0].shape[:2]
    work, imgs = _working(mixtures, s)
    shape, m = imgs[0].shape[:2], len(mixtures)
    target = torch.cat([to_batch(i, device) for i in imgs])  # M×3×H×W
    mem = torch.channels_last
    layers = _layer_net(s, 3, 2).to(device, memory_format=mem)
    code = noise_input(2 * s.input_depth, shape).to(device).contiguous(memory_format=mem)
    # two mixtures: the weights start at the gradient-sparsity estimate (the nets refine them); one: at 0.5
    start_weights = [0.5] if m == 1 else sparse_weights([i[:work[0], :work[1]] for i in imgs])
    logits = nn.Parameter(torch.tensor([_logit(p) for p in start_weights], device=device).view(m, 1, 1, 1))
    mix_net = _layer_net(s, m, 1, depth=2).to(device, memory_format=mem) if s.mix == "map" else None
    grid = meshgrid_input(shape).to(device) if mix_net is not None else None
    if mix_net is not None:  # the maps start where the constant weights do, at the estimate, not anywhere near 0.5
        mix_net.start_constant(start_weights)  # (from there they had settled at 0.38-0.41 for the sample's 0.75, 0.45)
    anchor = torch.tensor(start_weights, device=device) if mix_net is not None and m > 1 else None
    noise = NoiseSchedule(std=s.reg_noise)
    knobs = Knobs(lambda i: {"noise": noise(i, s.iters)}, device)

    def weights() -> torch.Tensor:  # M×1×H×W or M×1×1×1
        if mix_net is None:
            return torch.sigmoid(logits)
        with autocast(device, s.precision):
            return mix_net(grid).float().transpose(0, 1)

    def step(i: int) -> Step:
        with autocast(device, s.precision):
            out = layers(jitter(code, knobs["noise"])).float()
        a, b = out[:, :3], out[:, 3:]
        alpha = weights()
        recon = alpha * a + (1 - alpha) * b
        loss = losses.mse(recon, target)
        if anchor is not None:  # a map's mean stays at its mixture's estimated weight; the map adds the variation
            loss = loss + losses.mse(alpha.mean(dim=(1, 2, 3)), anchor)
        if s.exclusion_weight:
            loss = loss + s.exclusion_weight * losses.exclusion(a, b)
        return Step(loss, recon, {"a": a[0], "b": b[0], "alpha": alpha[:, 0]})

    nets = [layers] + ([mix_net] if mix_net is not None else [])
    problem = Problem(nets, step, target, extra_params=[logits] if mix_net is None else [],
                      inputs=[code] + ([grid] if grid is not None else []), knobs=knobs)
    r = optimise(problem, s.iters, LoopSettings(lr=s.lr, desc="layers", progress=s.progress,
                                                cuda_graph=s.cuda_graph))
    best = r.best or r.last

    def to_full(x: torch.Tensor) -> np.ndarray:
        return _to_full(x, work, full)

    alpha = best["alpha"].float().cpu().numpy()  # M×h×w (1×1 when constant)
    if mix_net is None:
        w = [float(v) for v in alpha.reshape(m)]
        exact = m == 2 and abs(w[0] - w[1]) > 0.05
        out = unmix(mixtures, w) if exact else [to_full(best["a"]), to_full(best["b"])]
        return Separated(out, r, time.time() - start, weights=w)
    maps = np.stack([to_full(a[None]).reshape(full) for a in best["alpha"]])
    return Separated([to_full(best["a"]), to_full(best["b"])], r, time.time() - start, weight_maps=maps)


def remove_watermark(images: list[np.ndarray], hint: np.ndarray, s: SeparateSettings, device: torch.device
                     ) -> Separated:
    """The clean images under a watermark that one or several images (HxWx3, the same size) share.

    A clean DIP per image (one grouped net) C_k and one mark DIP (W, α), α confined to the hint (HxW in
    [0, 1], where the mark may be): first the clean nets are fitted outside the hint only (DIP
    inpainting), then everything against I_k = α·W + (1 − α)·C_k. The clean result is the input outside
    the hint and the clean net's image inside it."""
    start = time.time()
    full = images[0].shape[:2]
    work, imgs = _working(images, s)
    hint_w = pad_to_multiple(resize(hint.astype(np.float32), work), 2 ** len(s.channels))
    shape, k = imgs[0].shape[:2], len(images)
    target = torch.cat([to_batch(i, device) for i in imgs])  # K×3×H×W
    inside = torch.from_numpy(np.ascontiguousarray(hint_w)).to(device)[None, None]
    outside = 1 - inside
    mem = torch.channels_last
    clean = _layer_net(s, 3, k).to(device, memory_format=mem)
    one_colour = s.mark == "colour"  # then the mark net gives only the opacity: it cannot copy the photo
    mark = _layer_net(s, 1 if one_colour else 4, 1).to(device, memory_format=mem)
    colour = nn.Parameter(torch.zeros(1, 3, 1, 1, device=device)) if one_colour else None  # logits: grey at first
    code_c = noise_input(k * s.input_depth, shape).to(device).contiguous(memory_format=mem)
    code_m = noise_input(s.input_depth, shape).to(device).contiguous(memory_format=mem)
    noise = NoiseSchedule(std=s.reg_noise)
    knobs = Knobs(lambda i: {"noise": noise(i, s.iters), "joint": float(i >= s.inpaint_iters)}, device)

    def step(i: int) -> Step:
        std, joint = knobs["noise"], knobs["joint"]
        with autocast(device, s.precision):
            c = clean(jitter(code_c, std)).float().reshape(k, 3, *shape)
            o = mark(jitter(code_m, std)).float()
        w = torch.sigmoid(colour).expand(1, 3, *shape) if one_colour else o[:, :3]
        alpha = o[:, -1:] * inside * joint
        recon = alpha * w + (1 - alpha) * c
        loss = losses.mse(c * outside, target * outside) + joint * losses.mse(recon, target)
        if s.opacity_weight:
            loss = loss + s.opacity_weight * alpha.sum() / inside.sum().clamp_min(1.0)
        return Step(loss, recon, {"clean": c, "mark": w[0], "alpha": alpha[0, 0]})

    extra = [colour] if one_colour else []
    problem = Problem([clean, mark], step, target, extra_params=extra, inputs=[code_c, code_m], knobs=knobs)
    # three numbers that Adam moves by about lr per step: at the nets' rate the colour would hardly leave grey
    opt = Adam([{"params": [p for n in (clean, mark) for p in n.parameters()]},
                {"params": extra, "lr": s.lr * COLOUR_LR_FACTOR}], lr=s.lr)
    r = optimise(problem, s.iters, LoopSettings(lr=s.lr, desc="watermark", progress=s.progress,
                                                track_from=min(s.inpaint_iters, s.iters - 1),
                                                cuda_graph=s.cuda_graph), optimizer=opt)
    best = r.best or r.last

    def to_full(x: torch.Tensor) -> np.ndarray:
        return _to_full(x, work, full)

    opacity = to_full(best["alpha"][None])[:, :, 0]
    mark_colour = to_full(best["mark"])
    cleaned = [unmark(image, to_full(c), hint, opacity, mark_colour, s.opaque)
               for image, c in zip(images, best["clean"], strict=True)]
    return Separated(cleaned, r, time.time() - start, weight_maps=opacity[None], mark=mark_colour)


def unmark(image: np.ndarray, clean_net: np.ndarray, hint: np.ndarray, opacity: np.ndarray, mark: np.ndarray,
           most: float) -> np.ndarray:
    """The clean image: the input outside the hint; inside it, the clean net's image where the mark's
    opacity exceeds `most`, and elsewhere the input with the mark taken out, C = (I − α·W) / (1 − α), which
    keeps the photo's own detail under a faint mark (`most` = 0: the clean net's image in all the hint,
    as Double-DIP)."""
    a = np.clip(opacity, 0, 1)[:, :, None]
    inverted = np.clip((image - a * mark) / np.maximum(1 - a, 1e-3), 0, 1)
    inside = np.where(a > most, clean_net, inverted)
    h = hint.astype(np.float32)[:, :, None]
    return (image * (1 - h) + inside * h).astype(np.float32)
