"""Hint-guided layer segmentation with coupled DIPs: K layer nets y_k and one mask net m with
I ≈ Σ_k m_k·y_k. K = 2 with a sigmoid mask is Double-DIP (m, 1 − m); any K with a softmax mask is the
paper's "multinomial" model. Layers are ordered from foreground to background."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import nn

from classical.colour import colour_loglik
from classical.graphcut import BinaryCut, expansion_cut, grabcut
from classical.guided import guided_upsample, scaled_radius
from classical.hints import band_costs, band_edge, band_prior, guesses_only, placed_band
from classical.texture import texture_features
from net import losses
from net.loop import Knobs, LoopResult, LoopSettings, NoiseSchedule, Problem, Step, optimise
from net.noise import jitter, noise_input
from net.precision import autocast
from net.skip import skip
from utils.image_io import crop, pad_to_multiple, resize, to_batch, to_uint8, working_shape


@dataclass
class SegmentSettings:
    """How to segment. The fields without a default are segmentation.py's settings, filled from its
    constants (utils.config.settings_from): their defaults live there only."""
    dip: bool  # fit the nets; false: no net built, the labels from the cut's classical terms alone
    channels: tuple[int, ...]  # per-scale channels of every net (no skips)
    input_depth: int  # channels of each net's noise input
    mask_input: str  # the mask: texture (see segment), or a DIP fed noise (Double-DIP) or the image
    gabor: bool  # texture mask: Gabor filter-bank energies besides the local statistics
    reg_noise: float  # std of the per-iteration input jitter
    step1_iters: int  # fit layers inside their hints, mask to the hints
    step2_iters: int  # add the reconstruction and the sharpening of the mask
    hint_iters: int  # step-2 iterations that keep the hint losses
    sharpen_weight: float  # binarisation (K=2 sigmoid) or entropy (softmax) weight at full ramp
    sharpen_ramp: int  # step-2 iterations over which that weight ramps up from 0
    exclusion_weight: float  # gradient exclusion between layers (Zhang et al.), 0 = off
    mask_hint_weight: float  # step 2 keeps the mask equal to the hints on hinted pixels
    psnr_target: float  # stop step 2 early at this reconstruction PSNR (0 = never)
    lr: float  # Adam
    precision: str  # fp32, or bf16 for the nets' convolutions (see net.precision)
    cuda_graph: bool  # on CUDA, capture an iteration once and replay it (see net.loop)
    max_side: int  # working resolution (longest side); outputs are full size
    guided_radius: float  # guided-filter radius as a fraction of the image's longest side
    guided_eps: float
    coarse: float  # coarse-to-fine: share of each step's iterations run first at half the working size
    cut: bool  # two layers: labels by the min cut of the layered energy (else the refined mask at 0.5)
    cut_layers: float  # its weight of each layer's reconstruction error
    cut_colour: float  # its weight of the hints' colour models
    cut_mask: float  # its weight of the mask's probabilities
    cut_smooth: float  # its weight of the boundary term
    cut_band: float  # its weight of the hint band's middle (see band_prior)
    cut_max_side: int  # the cut's resolution (longest side); labels are carried to full size beyond it
    progress: bool
    cut_rounds: int = 1  # cuts, each with colour models learned from the previous one's labels (a box: more)
    cut_starts: int = 1  # a box: GrabCut's starts, the lowest-energy one kept (classical.graphcut.grabcut)
    texture_hidden: int = 32  # texture mask: hidden units of its per-pixel classifier
    input_var: float = 0.1  # scale of the uniform input noise
    softmax: bool = False  # K-channel softmax mask even for K = 2
    name: str = "segment"


@dataclass
class Segmentation:
    """Full-resolution results: soft mask K×H×W (sums to 1), refined mask, labels (0 = first layer),
    layers K×H×W×3 (uint8), and the loop results of both steps."""
    soft: np.ndarray
    refined: np.ndarray
    labels: np.ndarray
    layers: np.ndarray
    steps: dict[str, LoopResult] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return any(r.stopped == "interrupted" for r in self.steps.values())


def texture_classifier(c_in: int, hidden: int, c_out: int) -> nn.Sequential:
    """The texture mask: a per-pixel classifier (1x1 convolutions) of texture statistics."""
    return nn.Sequential(nn.Conv2d(c_in, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, c_out, 1))


@dataclass
class _Level:
    """One working size's tensors: the padded image, hints, mask target, texture features and noise code."""
    work: tuple[int, int]  # the image's size inside the padding
    img_w: np.ndarray
    img: torch.Tensor
    hints: list[torch.Tensor]
    hinted: torch.Tensor  # union of the hints
    target: torch.Tensor  # step 1's mask target
    code: torch.Tensor
    feats: torch.Tensor | None


class _Model:
    """The K layer nets and the mask of one segmentation, and the losses of its two steps.

    The K layer nets (and a mask DIP, if the mask is one) share one architecture, so they run as one
    grouped network. A texture mask is instead a per-pixel classifier of local texture statistics: it
    cannot follow a layer net into a region that does not look like that layer's hints."""

    def __init__(self, k_layers: int, s: SegmentSettings, device: torch.device) -> None:
        self.k, self.s, self.device = k_layers, s, device
        self.binary = k_layers == 2 and not s.softmax  # Double-DIP's sigmoid mask m, 1 - m
        self.mask_c = 1 if self.binary else k_layers
        self.c_out = max(3, self.mask_c)
        self.by_texture = s.mask_input == "texture"
        self.groups = k_layers + (0 if self.by_texture else 1)
        self.net = skip(s.input_depth, self.c_out, s.channels, s.channels, [0] * len(s.channels), sigmoid=False,
                        groups=self.groups).to(device, memory_format=torch.channels_last)
        self.mask_net: nn.Module | None = None

    def add_texture_mask(self, features: int) -> None:
        self.mask_net = texture_classifier(features, self.s.texture_hidden, self.mask_c).to(self.device)

    @property
    def nets(self) -> list[nn.Module]:
        return [self.net] + ([self.mask_net] if self.mask_net is not None else [])

    def level(self, image: np.ndarray, hints: list[np.ndarray], work: tuple[int, int],
              finer: _Level | None = None) -> _Level:
        """The tensors at working size `work`; a coarser level takes its texture features from `finer`,
        shrunk, so that the mask classifier sees the same statistics at both sizes."""
        s, device, mult = self.s, self.device, 2 ** len(self.s.channels)
        img_w = pad_to_multiple(resize(image, work), mult)
        hints_w = [pad_to_multiple(resize(h, work) > 0.5, mult).astype(np.float32) for h in hints]
        # padding must not invent hint pixels: hints only inside the true image area
        valid = np.zeros(img_w.shape[:2], np.float32)
        valid[: work[0], : work[1]] = 1
        h_t = [to_batch(h * valid, device) for h in hints_w]
        img = to_batch(img_w, device)
        code = noise_input(s.input_depth * self.groups, img_w.shape[:2], s.input_var).to(device)
        if s.mask_input == "image":  # the mask net sees the image: it learns which appearance is which layer
            d = s.input_depth
            code[:, self.k * d:] = img.mean(1, keepdim=True).expand(-1, d, -1, -1) if d != 3 else img
        feats = None
        if self.by_texture and finer is None:
            feats = torch.from_numpy(texture_features(img_w, gabor=s.gabor)).to(device)[None]
        elif self.by_texture:
            f = [resize(c, work) for c in finer.feats[0, :, : finer.work[0], : finer.work[1]].cpu().numpy()]
            feats = to_batch(pad_to_multiple(np.stack(f, axis=2), mult), device)  # one map at a time: cv2
            # resizes at most 4 channels at once at most scales
        # mask target of step 1: one-hot where hinted, uniform (1/K) elsewhere; for K=2 this is (fg-bg+1)/2
        hinted = torch.clamp(sum(h_t), 0, 1)
        target = torch.cat(h_t, 1) + (1 - hinted) / self.k
        return _Level(work, img_w, img, h_t, hinted, target[:, :1] if self.binary else target,
                      code.contiguous(memory_format=torch.channels_last), feats)

    def mask_at(self, image: np.ndarray, work: tuple[int, int]) -> np.ndarray | None:
        """A texture mask's layer probabilities (HxWxK) for `image` at its own size (None for a mask DIP):
        the classifier is per pixel, so it answers at any size given the same statistics, windows scaled
        by the size's ratio to the working size `work`."""
        if self.mask_net is None:
            return None
        zoom = max(image.shape[:2]) / max(work)
        f = torch.from_numpy(texture_features(image, gabor=self.s.gabor, zoom=zoom))[None].to(self.device)
        with torch.no_grad():
            raw = self.mask_net(f).float()
        p = torch.cat([torch.sigmoid(raw), torch.sigmoid(-raw)], 1) if self.binary else torch.softmax(raw, 1)
        return p[0].permute(1, 2, 0).cpu().numpy()

    def forward(self, lv: _Level, knobs: Knobs) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor,
                                                          torch.Tensor]:
        """The layers y_k, the mask channels (summing to 1), the mask as its losses see it (m for a sigmoid
        mask, else the channels) and the mix Σ m_k·y_k."""
        s, k, c = self.s, self.k, self.c_out
        with autocast(self.device, s.precision):
            out = self.net(jitter(lv.code, knobs["noise"]) if s.reg_noise else lv.code).float()
        ys = [torch.sigmoid(out[:, i * c:i * c + 3]) for i in range(k)]
        raw = self.mask_net(lv.feats) if self.mask_net is not None else out[:, k * c:k * c + self.mask_c]
        m = torch.sigmoid(raw) if self.binary else None
        masks = torch.cat([m, 1 - m], 1) if self.binary else torch.softmax(raw, 1)
        mix = sum(masks[:, i:i + 1] * ys[i] for i in range(k))
        return ys, masks, (m if self.binary else masks), mix

    def _hint_loss(self, lv: _Level, ys: list[torch.Tensor]) -> torch.Tensor:
        return sum(losses.hint_l1(y, lv.img, h) for y, h in zip(ys, lv.hints, strict=True))

    @staticmethod
    def _outputs(ys: list[torch.Tensor], masks: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"layers": torch.stack([y[0] for y in ys]), "mask": masks[0]}

    def step1(self, lv: _Level, knobs: Knobs) -> Step:
        """Each layer inside its hint; the mask to the hints."""
        ys, masks, m, mix = self.forward(lv, knobs)
        # a noise-fed mask learns the hints and 1/K elsewhere; an image-fed one learns only from the hints,
        # so that on unhinted pixels it answers from their appearance
        noise_fed = self.s.mask_input == "noise"
        mask_loss = losses.l1(m, lv.target) if noise_fed else self._mask_hint_loss(lv, m)
        return Step(self._hint_loss(lv, ys) + mask_loss, mix, self._outputs(ys, masks))

    def _mask_hint_loss(self, lv: _Level, m: torch.Tensor) -> torch.Tensor:
        """The mask against the hints on the hinted pixels: the paper's L1 for a noise-fed mask DIP, a
        class-balanced cross-entropy for a mask that classifies appearance (it converges to a sharp answer)."""
        if self.s.mask_input == "noise":
            return losses.hint_l1(m, lv.target, lv.hinted)
        return losses.hint_cross_entropy(m, lv.target, lv.hinted)

    def step2(self, lv: _Level, knobs: Knobs) -> Step:
        """The reconstruction, the hints for a while, the mask kept to the hints where they are known and
        sharpened more and more (and, if asked, the exclusion of the layers' edges)."""
        s, k = self.s, self.k
        ys, masks, m, mix = self.forward(lv, knobs)
        loss = losses.l1(mix, lv.img)
        if s.hint_iters > 0:  # for the first hint_iters iterations
            loss = loss + knobs["hint"] * self._hint_loss(lv, ys)
        if s.mask_hint_weight:  # hinted pixels are known: the mask must agree with them there
            loss = loss + s.mask_hint_weight * self._mask_hint_loss(lv, m)
        sharpen = losses.binarisation(m) if self.binary else losses.entropy(masks)
        loss = loss + knobs["sharpen"] * sharpen  # ramped up over sharpen_ramp iterations
        if s.exclusion_weight:
            loss = loss + s.exclusion_weight * sum(losses.exclusion(ys[a], ys[b])
                                                   for a in range(k) for b in range(a + 1, k))
        return Step(loss, mix, self._outputs(ys, masks))


def _run_step(model: _Model, levels: list[tuple[_Level, int]], n: int,
              step: Callable[[_Level, Knobs], Step], schedule: Callable[[int], dict[str, float]], iters: int,
              steps: dict[str, LoopResult], track: int = 0, psnr_target: float = 0.0) -> tuple[LoopResult, _Level]:
    """Step n in parts, one per (level, iterations) of `levels` (coarse-to-fine: the coarse level's share
    first), with one Adam state throughout; each part's result goes into `steps`. Returns the last part's
    result and level."""
    s = model.s
    parts, first = [], 0
    for i, (lv, count) in enumerate(levels):
        coarse = i < len(levels) - 1
        parts.append((lv, first, first + count, f"step{n}_coarse" if coarse else f"step{n}",
                      " (half size)" if coarse else ""))
        first += count
    todo = [p for p in parts if p[2] > p[1]] or parts[-1:]  # a 0-iteration step still gives its outputs
    opt = result = None
    for lv, first, stop, label, size in todo:
        knobs = Knobs(lambda i, first=first: schedule(i + first), model.device)
        problem = Problem(model.nets, lambda i, lv=lv, knobs=knobs: step(lv, knobs), lv.img, inputs=[lv.code],
                          knobs=knobs)
        loop = LoopSettings(lr=s.lr, psnr_target=psnr_target, track_from=min(max(track - first, 0), stop - first - 1),
                            desc=f"{s.name} step {n}{size}", progress=s.progress, cuda_graph=s.cuda_graph)
        result = optimise(problem, stop - first, loop, optimizer=opt)
        steps[label], opt = result, result.optimizer
        if result.stopped in ("interrupted", "non_finite"):
            break
    return result, lv


def segment(image: np.ndarray, hints: list[np.ndarray], s: SegmentSettings, device: torch.device,
            fixed: list[np.ndarray] | None = None) -> Segmentation:
    """Split `image` (HxWx3 in [0,1]) into len(hints) layers, hint k marking pixels of layer k. The nets learn
    from `hints`; the labels keep `fixed` (default: the hints) where it is set: a box's inside teaches the
    foreground layer without fixing any pixel of it (see classical.hints.box_hints).

    Step 1 fits each layer inside its hint and the mask to the hints; step 2 adds the reconstruction and
    sharpens the mask (see _Model). With s.coarse > 0 each step runs that share of its iterations at half
    the working size first (coarse-to-fine: the nets are fully convolutional and the texture mask is per
    pixel, so both carry over; a quarter of the pixels makes those iterations about 4x cheaper)."""
    full = image.shape[:2]
    if not s.dip:
        return _without_nets(image, hints, hints if fixed is None else fixed, s)
    model = _Model(len(hints), s, device)
    fine = model.level(image, hints, working_shape(full, s.max_side))
    if model.by_texture:
        model.add_texture_mask(fine.feats.shape[1])
    coarse = model.level(image, hints, ((fine.work[0] + 1) // 2, (fine.work[1] + 1) // 2), fine) \
        if s.coarse > 0 else None
    noise = NoiseSchedule(std=s.reg_noise)

    def levels(iters: int) -> list[tuple[_Level, int]]:
        n_coarse = round(s.coarse * iters) if coarse is not None else 0
        return ([(coarse, n_coarse)] if coarse is not None else []) + [(fine, iters - n_coarse)]

    # per-iteration values, read as tensors so that every iteration computes the same thing (net.loop.Knobs)
    def schedule1(i: int) -> dict[str, float]:
        return {"noise": noise(i, s.step1_iters)}

    def schedule2(i: int) -> dict[str, float]:
        return {"noise": noise(i, s.step2_iters), "hint": float(i < s.hint_iters),
                "sharpen": s.sharpen_weight * min(1.0, (i + 1) / max(s.sharpen_ramp, 1))}

    steps: dict[str, LoopResult] = {}
    result, at = _run_step(model, levels(s.step1_iters), 1, model.step1, schedule1, s.step1_iters, steps)
    if result.stopped not in ("interrupted", "non_finite") and s.step2_iters > 0:
        track = min(max(s.hint_iters, s.sharpen_ramp), max(s.step2_iters - 1, 0))
        result, at = _run_step(model, levels(s.step2_iters), 2, model.step2, schedule2, s.step2_iters, steps,
                               track, s.psnr_target)
    best = result.best if result.best else result.last
    return _finish(image, hints, hints if fixed is None else fixed, at.img_w, best, at.work, s, steps,
                   lambda small: model.mask_at(small, at.work))


def _without_nets(image: np.ndarray, hints: list[np.ndarray], fixed: list[np.ndarray], s: SegmentSettings
                  ) -> Segmentation:
    """--dip=false: no net built. The labels are the cut's with every term that comes from a net left out
    (the hints' colour models, the band, the boundary term; GrabCut from a box); the layers are the photo
    cut along them, the soft mask the labels themselves."""
    k = len(hints)
    if k == 2:
        labels = np.logical_not(cut_labels(image, hints, fixed, None, None, s)).view(np.uint8)
    else:
        labels = multi_cut_labels(image, hints, fixed, None, None, s)
    for layer, hint in enumerate(fixed):
        labels[hint > 0] = layer
    onehot = np.stack([labels == j for j in range(k)]).astype(np.float32)
    layers = np.stack([to_uint8(image) * (labels == j)[:, :, None] for j in range(k)])
    return Segmentation(soft=onehot, refined=onehot.copy(), labels=labels, layers=layers, steps={})


def _finish(image: np.ndarray, hints: list[np.ndarray], fixed: list[np.ndarray], img_w: np.ndarray,
            best: dict[str, torch.Tensor],
            work: tuple[int, int], s: SegmentSettings, steps: dict[str, LoopResult],
            mask_at: Callable[[np.ndarray], np.ndarray | None] | None = None) -> Segmentation:
    """Crop the padding and bring the results to full size: the soft mask upsampled, the refined one
    guided-filtered against the input (at the working size, then applied at full size: a huge photo
    never needs full-size temporaries), layers as full-size 8-bit images, and the labels: the min cut of
    the layered energy for two layers (see cut_labels), else the refined mask's most likely layer. Fixed
    pixels keep their hint's label: a sure hint is a promise the user made."""
    full = image.shape[:2]
    soft_w = np.clip(crop(best["mask"].float().cpu().numpy().transpose(1, 2, 0), work), 0, 1)  # h×w×K
    k = soft_w.shape[2]
    soft = np.clip(resize(soft_w, full).reshape(full + (k,)), 0, 1)
    refined = guided_upsample(image, crop(img_w, work), soft_w, scaled_radius(work, s.guided_radius),
                              s.guided_eps).reshape(full + (k,))
    layers = np.stack([resize(to_uint8(crop(y.float().cpu().numpy().transpose(1, 2, 0), work)), full)
                       for y in best["layers"]])
    if len(hints) == 2 and s.cut:
        labels = np.logical_not(cut_labels(image, hints, fixed, soft[:, :, 0], layers, s, mask_at)).view(np.uint8)
    elif s.cut:
        labels = multi_cut_labels(image, hints, fixed, soft, layers, s, mask_at)
    else:
        labels = np.empty(full, np.uint8)
        for y in range(0, full[0], 512):  # in strips: no full-size temporaries for a huge photo
            r = refined[y:y + 512]
            np.clip(r, 0, 1, out=r)
            r /= np.clip(r.sum(axis=2, keepdims=True), 1e-6, None)
            labels[y:y + 512] = np.argmax(r, axis=2)
    for layer, hint in enumerate(fixed):
        labels[hint > 0] = layer
    return Segmentation(soft=soft.transpose(2, 0, 1), refined=refined.transpose(2, 0, 1), labels=labels,
                        layers=layers, steps=steps)


def cut_labels(image: np.ndarray, hints: list[np.ndarray], fixed: list[np.ndarray], soft_fg: np.ndarray | None,
               layers: np.ndarray | None, s: SegmentSettings,
               mask_at: Callable[[np.ndarray], np.ndarray | None] | None = None) -> np.ndarray:
    """The foreground of a two-layer segmentation (HxW bool) as the exact minimum of the layered energy,
    over the pixels the hints leave open: each pixel pays for the label it gets

      cut_layers x its reconstruction error under that label's layer (the coupled DIPs: which layer,
                   grown from its own hint, explains this pixel), Gaussian-averaged over a few pixels
      cut_colour x minus its colour's log-likelihood under that layer's hint colours (GrabCut's mixtures;
                   with nothing fixed, automatic hints, the colours of the mask's labels)
      cut_mask   x minus the log-probability the mask gives that label (a texture mask is evaluated at
                   the cut's size by `mask_at`; a mask DIP's soft mask, for which it answers None, resized)
      cut_band   x where the pixel lies across a narrow band between the sure hints (see band_prior)

    plus cut_smooth x GrabCut's contrast-sensitive boundary term between neighbours of different labels;
    the `fixed` pixels keep their labels. A min cut (classical.graphcut) finds it at up to cut_max_side
    pixels; a larger photo's labels are carried to full size by a guided filter against it. With
    cut_rounds > 1 (a box, whose inside holds background colours too) the labels are OpenCV GrabCut's
    from the fixed pixels, `cut_rounds` iterations, the lowest-energy of `cut_starts` starts; where it
    cannot run (a box over the whole image) the cut is redone `cut_rounds` times, its colour models learned
    again from the previous labels."""
    full = image.shape[:2]
    shape = working_shape(full, s.cut_max_side)
    img = resize(image, shape)
    fg, bg = (resize(np.asarray(h, np.float32), shape) > 0.5 for h in hints)  # no full-size copies
    bg &= ~fg
    sure_fg, sure_bg = (resize(np.asarray(h, np.float32), shape) > 0.5 for h in fixed)
    sure_bg &= ~sure_fg
    least = max(50, int(0.01 * fg.sum()))  # fewer pixels than 1% of the foreground hint: a collapsed layer
    if s.cut_rounds > 1:  # a box: OpenCV's GrabCut splits its inside (our cuts from its labels measured worse:
        # 9.4% against its 2.2% on a benchmark photo); ours below only where it cannot run (a box over the image)
        labels = grabcut(img, sure_fg, sure_bg, s.cut_rounds, starts=s.cut_starts)
        if labels is not None and min(labels.sum(), (~labels).sum()) >= least:
            return _to_full(image, img, labels, s)
    errors = layer_errors(img, layers) if layers is not None else [np.zeros(shape, np.float32)] * 2
    at_cut = mask_at(img) if mask_at is not None else None  # None: no texture mask to evaluate at this size
    p = np.clip(at_cut[:, :, 0] if at_cut is not None else resize(soft_fg, shape) if soft_fg is not None
                else np.full(shape, 0.5, np.float32), 1e-4, 1 - 1e-4)
    if guesses_only(fixed) and soft_fg is not None:  # automatic hints mark grey levels, which mix objects (a monster's
        # light scales and the grass): the colour models learn from the mask's labels, freed from them in step 2
        fg, bg = p > 0.5, p <= 0.5
    weights = (s.cut_layers, s.cut_mask)
    if s.cut_rounds > 1:  # a box: the foreground layer and the mask learned its whole inside, background too;
        # the background layer, grown from the outside, still tells which pixels inside are background: its
        # error is held against what it makes outside the box (its 90th percentile), the mask left out
        errors[0] = np.full(shape, np.percentile(errors[1][sure_bg], 90) if sure_bg.any() else errors[1].mean())
        weights = (s.cut_layers / 6, 0.0)
    to_fg, band = band_prior(sure_fg, sure_bg)  # no weight without both sure hints (a box has no sure foreground)
    colour_weight = None
    no_band_to_judge = guesses_only(fixed) or s.cut_rounds > 1  # automatic hints, a box's inside
    cut = BinaryCut(img, sure_fg, sure_bg, s.cut_smooth)  # its graph and flow, kept from one solve to the next
    for _ in range(max(1, s.cut_rounds)):
        ll = [colour_loglik(img, h) for h in (fg, bg)]
        if colour_weight is None:  # colours that do not tell the hints apart (textures alike in colour) weigh
            # less; a box's inside holds background too, so its colours' separability says nothing there
            colour_weight = s.cut_colour * (separability(ll, fg, bg) if s.cut_rounds == 1 else 1.0)
        costs = [-colour_weight * c - weights[1] * np.log(q) for c, q in zip(ll, (p, 1 - p), strict=True)]
        extra, fair = [0.0, 0.0], no_band_to_judge
        if band.any():  # a band between the sure hints: where the photo (its colours, and the mask's view of
            # its texture) puts the edge in it
            first = cut(costs[0], costs[1])
            found = band_edge(first, to_fg, band, sure_fg | sure_bg)
            centre, weight = placed_band(found, s.cut_band)
            if weight:
                extra = list(band_costs(to_fg, band, centre, weight))
            fair = found is not None and centre == 0.5
        # each layer net, grown from its own hint, explains the pixels nearer to that hint better, wherever the
        # edge is: its errors weigh in only where the hints are about equally far from the edge (a centred band)
        layers_weight = weights[0] if fair else 0.0
        costs = [c + layers_weight * e + b for c, e, b in zip(costs, errors, extra, strict=True)]
        labels = cut(costs[0], costs[1])
        if min(labels.sum(), (~labels).sum()) < least:  # a layer (almost) emptied: keep the last labels with both
            labels = fg.copy()
            break
        fg, bg = labels, ~labels
    return _to_full(image, img, labels, s)


def layer_errors(img: np.ndarray, layers: np.ndarray) -> list[np.ndarray]:
    """Each layer's reconstruction error of `img` (the cut's size), summed over colours and Gaussian-averaged
    over a few pixels. The 8-bit full-size layers are shrunk first: a huge photo's float copies would cost
    gigabytes."""
    shape = img.shape[:2]
    sigma = max(1.0, 0.004 * max(shape))
    return [cv2.GaussianBlur(np.abs(img - resize(y, shape).astype(np.float32) / 255).sum(axis=2), (0, 0), sigma)
            for y in layers]


def multi_cut_labels(image: np.ndarray, hints: list[np.ndarray], fixed: list[np.ndarray], soft: np.ndarray | None,
                     layers: np.ndarray | None, s: SegmentSettings,
                     mask_at: Callable[[np.ndarray], np.ndarray | None] | None = None) -> np.ndarray:
    """The labels (HxW uint8, layer index) of a K > 2 layer segmentation: cut_labels's layered energy (each
    layer's reconstruction error, its hint's colours, the mask's log-probability, GrabCut's boundary term)
    minimised over K labels by alpha-expansion (classical.graphcut.expansion_cut) at up to cut_max_side
    pixels, the `fixed` pixels held; carried to full size by a guided filter of each label's indicator."""
    full, k = image.shape[:2], len(hints)
    shape = working_shape(full, s.cut_max_side)
    img = resize(image, shape)
    learn = [resize(np.asarray(h, np.float32), shape) > 0.5 for h in hints]
    sure = np.full(shape, -1, np.int64)
    for layer, f in enumerate(fixed):
        sure[resize(np.asarray(f, np.float32), shape) > 0.5] = layer
    errors = layer_errors(img, layers) if layers is not None else [np.zeros(shape, np.float32)] * k
    at_cut = mask_at(img) if mask_at is not None else None
    p = np.clip(at_cut if at_cut is not None else resize(soft, shape).reshape(shape + (k,)) if soft is not None
                else np.full(shape + (k,), 1.0 / k, np.float32), 1e-4, 1.0)
    if guesses_only(fixed) and soft is not None:  # automatic hints: the colours of the mask's labels (see cut_labels)
        learn = [np.argmax(p, axis=2) == j for j in range(k)]
    ll = [colour_loglik(img, h) for h in learn]
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    colour_weight = s.cut_colour * float(np.mean([separability([ll[a], ll[b]], learn[a], learn[b])
                                                  for a, b in pairs]))
    costs = np.stack([s.cut_layers * e - colour_weight * c - s.cut_mask * np.log(p[:, :, j])
                      for j, (e, c) in enumerate(zip(errors, ll, strict=True))], axis=2)
    labels = expansion_cut(img, costs, sure, s.cut_smooth)
    if shape == full:
        return labels.astype(np.uint8)
    onehot = np.stack([labels == j for j in range(k)], axis=2).astype(np.float32)
    up = guided_upsample(image, img, onehot, scaled_radius(shape, s.guided_radius), s.guided_eps)
    out = np.empty(full, np.uint8)
    for y in range(0, full[0], 512):  # in strips: no full-size temporaries for a huge photo
        out[y:y + 512] = np.argmax(up[y:y + 512].reshape(-1, full[1], k), axis=2)
    return out


def _to_full(image: np.ndarray, img: np.ndarray, labels: np.ndarray, s: SegmentSettings) -> np.ndarray:
    """Labels made at the cut's size `img` carried to the full-size `image` by a guided filter against it."""
    if img.shape[:2] == image.shape[:2]:
        return labels
    shape = img.shape[:2]
    up = guided_upsample(image, img, labels.astype(np.float32), scaled_radius(shape, s.guided_radius), s.guided_eps)
    return up > 0.5


def separability(loglik: list[np.ndarray], fg: np.ndarray, bg: np.ndarray) -> float:
    """How well two colour models tell their own regions apart, from 0 (chance) to 1: the balanced accuracy
    of the likelihood ratio on the regions' pixels, rescaled."""
    if not fg.any() or not bg.any():
        return 0.0
    right = 0.5 * (float((loglik[0][fg] > loglik[1][fg]).mean()) + float((loglik[1][bg] >= loglik[0][bg]).mean()))
    return max(0.0, 2.0 * right - 1.0)


def fuse_vote(masks: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    """Fuse three pairwise two-layer results into one label map by majority vote.

    `masks[(a, b)]` is the soft mask of the run that separated label a (mask → 1) from label b
    (mask → 0), for the three pairs of labels {0, 1, 2}. Each run votes for one of its two labels; a
    label with two votes wins; a three-way tie goes to the label with the largest summed confidence
    (m for a, 1 − m for b).
    """
    labels = sorted({x for pair in masks for x in pair})
    shape = next(iter(masks.values())).shape
    votes = np.zeros((len(labels),) + shape, np.int32)
    conf = np.zeros((len(labels),) + shape, np.float32)
    index = {lab: i for i, lab in enumerate(labels)}
    for (a, b), m in masks.items():
        votes[index[a]] += m > 0.5
        votes[index[b]] += m <= 0.5
        conf[index[a]] += m
        conf[index[b]] += 1 - m
    best_votes = votes.max(axis=0)
    tie = best_votes < 2
    out = np.asarray(labels)[np.argmax(votes, axis=0)]
    out[tie] = np.asarray(labels)[np.argmax(conf, axis=0)][tie]
    return out.astype(np.uint8)


def fuse_paper(masks: dict[tuple[int, int], np.ndarray], fg: int = 2, mg: int = 1, bg: int = 0) -> np.ndarray:
    """The paper's rule, vectorised: where the (fg, bg) run and the runs involving the middle-ground
    agree on a label that label is kept; any disagreement becomes middle-ground."""
    fg_bg = masks[(fg, bg)] > 0.5  # True: fg
    fg_mg = masks[(fg, mg)] > 0.5  # True: fg
    mg_bg = masks[(mg, bg)] > 0.5  # True: mg
    out = np.full(fg_bg.shape, mg, np.uint8)
    out[fg_bg & fg_mg] = fg
    out[~fg_bg & ~mg_bg] = bg
    return out
