"""Double-DIP dehazing, I = t·J + (1 − t)·A: a J net (3 channels) and a t net (1 channel), run as one
grouped network, with the airlight A fixed from the dark-channel estimate or learned by a third net."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from classical.guided import scaled_radius
from classical.haze import dcp_transmission, estimate_airlight, recover, restore
from net import losses
from net.loop import Knobs, LoopResult, LoopSettings, NoiseSchedule, Plateau, Problem, Step, optimise, psnr_db
from net.noise import jitter, meshgrid_input, noise_input
from net.precision import autocast
from net.skip import skip
from utils.image_io import crop, pad_to_multiple, resize, to_batch, working_shape


@dataclass
class DehazeSettings:
    """How to dehaze one image. The fields without a default are dehazing_system.py's settings, filled
    from its constants (utils.config.settings_from): their defaults live there only."""
    dip: bool  # fit the nets; false: no net built, t is the prior's own (the classical pipeline alone)
    channels: tuple[int, ...]  # per-scale channels of the J, t (and A) nets
    skips: tuple[int, ...]  # per-scale skip channels
    input_depth: int  # channels of the noise inputs
    reg_noise: float  # std of the per-iteration jitter of the J net's input
    iters: int
    lr: float
    precision: str  # fp32, or bf16 for the nets' convolutions (see net.precision)
    cuda_graph: bool  # on CUDA, capture an iteration once and replay it (see net.loop)
    smooth_weight: float  # weight of the local-variance smoothness of t
    airlight: str  # fixed (dark-channel estimate) or learned (A net on a meshgrid)
    airlight_pull_iters: int  # learned A: iterations pulled towards the estimate
    max_side: int  # working resolution (longest side)
    guided_radius: float  # guided-filter radius for t, as a fraction of the longest side
    guided_eps: float
    t_min: float  # the final t is clipped to [t_min, 1]
    t_prior_weight: float  # weight of an MSE pull of t towards the dark-channel-prior transmission
    t_prior_omega: float  # haze removed by that prior: t_dcp = 1 − ω·dark(I / A)
    net_t: str  # what the nets' t decides: amount (how much haze; the prior's layout kept) or map (all of t)
    progress: bool
    plateau: Plateau | None = None  # adaptive schedule: stop at the knee of the PSNR curve
    retarget_t: bool = False  # warm start from another stage: shift t's output to the new prior's mean
    input_var: float = 0.1  # scale of the uniform input noise
    airlight_smooth_weight: float = 0.1  # learned A: smoothness weight
    name: str = "dehaze"


@dataclass
class Dehazed:
    """Full-resolution results: J (HxWx3), t (HxW), A (HxWx3 map), the loop's result, and the nets
    (for warm starts)."""
    J: np.ndarray
    t: np.ndarray
    A: np.ndarray
    airlight: np.ndarray  # the mean airlight colour
    loop: LoopResult  # (with no nets: 0 iterations)
    time_s: float
    state: dict = field(default_factory=dict)


def dehaze(image: np.ndarray, s: DehazeSettings, device: torch.device, airlight: np.ndarray | None = None,
           warm: dict | None = None, t_prior: np.ndarray | None = None) -> Dehazed:
    """Dehaze `image` (HxWx3 in [0, 1]). `airlight` (a colour, or an HxWx3 map) fixes A as a prior;
    otherwise it is estimated from the dark channel (and, with s.airlight == "learned", refined by an
    A net). `warm` (a previous result's .state) starts from its weights and inputs. With
    s.t_prior_weight > 0, t is pulled towards `t_prior` (HxW; default: the dark-channel-prior estimate)."""
    start = time.time()
    full = image.shape[:2]
    work = working_shape(full, s.max_side)
    mult = 2 ** len(s.channels)
    img_w = pad_to_multiple(resize(image, work), mult)
    shape = img_w.shape[:2]
    img = to_batch(img_w, device)
    if airlight is None:
        airlight = estimate_airlight(image)
    a_prior = np.asarray(airlight, np.float32)
    if a_prior.ndim == 1:
        a_fixed = torch.tensor(a_prior, device=device).view(1, 3, 1, 1)
    else:
        a_fixed = to_batch(pad_to_multiple(resize(a_prior, work), mult), device)

    if not s.dip:  # the same pipeline with no net: t is the prior's transmission
        return _without_nets(image, img_w, work, full, s, a_prior, t_prior, start)
    t_target = None
    if s.t_prior_weight:
        if t_prior is None:
            t_prior = dcp_transmission(image, a_prior, s.t_prior_omega)
        t_target = to_batch(pad_to_multiple(resize(t_prior, work), mult), device)
    mem = torch.channels_last
    jt = skip(s.input_depth, 3, s.channels, s.channels, s.skips, sigmoid=False, groups=2).to(device, memory_format=mem)
    code = noise_input(2 * s.input_depth, shape, s.input_var).to(device)
    learned = s.airlight == "learned"
    a_net = skip(2, 3, s.channels, s.channels, s.skips).to(device, memory_format=mem) if learned else None
    grid = meshgrid_input(shape).to(device) if learned else None
    if a_net is not None and not (warm and warm.get("a_net")):  # A starts at the estimate, not at a fresh net's
        a_net.start_constant(a_fixed.float().mean(dim=(0, 2, 3)).tolist())  # grey 0.5, which 1000 iterations of
        # pull had not undone in a 50-iteration run
    if warm:
        jt.load_state_dict(warm["jt"])
        code = warm["code"].to(device) if warm["code"].shape[-2:] == shape else code
        if a_net is not None and warm.get("a_net"):
            a_net.load_state_dict(warm["a_net"])
    if t_target is not None and (not warm or s.retarget_t):  # start t at the prior's mean, not at 0.5
        with torch.no_grad():
            def logit(p: float) -> float:
                p = min(max(p, 0.05), 0.95)
                return float(np.log(p / (1 - p)))
            # where t starts now: a fresh net's mean t is not 0.5 but anywhere in 0.40-0.57 with the seed (its
            # batch statistics, as the loop sees them), an offset 50 iterations keep; a warm net's, as it was
            now = float(torch.sigmoid((jt.eval() if warm else jt)(code)[:, 3:4]).mean())
            jt.train()
            jt.out.bias[3] += logit(float(t_target.mean())) - logit(now)
    code = code.contiguous(memory_format=mem)
    noise = NoiseSchedule(std=s.reg_noise)
    nets = [jt] + ([a_net] if a_net is not None else [])
    # per-iteration values, read as tensors so that every iteration computes the same thing (net.loop.Knobs)
    knobs = Knobs(lambda i: {"noise": noise(i, s.iters), "pull": float(i < s.airlight_pull_iters)}, device)

    def forward() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        std = knobs["noise"]
        d = s.input_depth  # only the J net's input (the first d channels) is jittered, as in Double-DIP
        x = torch.cat([jitter(code[:, :d], std), code[:, d:]], 1) if s.reg_noise else code
        with autocast(device, s.precision):
            out = jt(x).float()
        J, t = torch.sigmoid(out[:, :3]), torch.sigmoid(out[:, 3:4])
        if a_net is None:
            return J, t, a_fixed
        with autocast(device, s.precision):
            A = a_net(jitter(grid, std) if s.reg_noise else grid).float()
        return J, t, A

    def step(i: int) -> Step:
        J, t, A = forward()
        recon = t * J + (1 - t) * A
        loss = losses.mse(recon, img) + s.smooth_weight * losses.smoothness(t)
        if t_target is not None:
            loss = loss + s.t_prior_weight * losses.mse(t, t_target)
        if a_net is not None:
            loss = loss + s.airlight_smooth_weight * losses.smoothness(A)
            if s.airlight_pull_iters > 0:  # for the first airlight_pull_iters iterations
                loss = loss + knobs["pull"] * losses.mse(A, a_fixed.expand_as(A))
        return Step(loss, recon, {"J": J[0], "t": t[0], "A": A[0] if a_net is not None else a_fixed[0]})

    problem = Problem(nets, step, img, inputs=[code] + ([grid] if grid is not None else []), knobs=knobs)
    r = optimise(problem, s.iters, LoopSettings(lr=s.lr, plateau=s.plateau, desc=s.name, progress=s.progress,
                                                cuda_graph=s.cuda_graph))
    best = r.best or r.last
    if t_target is not None and s.net_t == "amount":
        best = {**best, "t": haze_scaled(best["t"], t_target[0], work)}
    state = {"jt": {k: v.clone() for k, v in jt.state_dict().items()}, "code": code.contiguous(),
             "a_net": {k: v.clone() for k, v in a_net.state_dict().items()} if a_net is not None else None}
    return _finish(image, img_w, best, work, full, s, r, state, start)


def haze_scaled(t_net: torch.Tensor, t_prior: torch.Tensor, work: tuple[int, int]) -> torch.Tensor:
    """The prior's haze 1 − t_prior scaled to the amount of the nets' (their means over the photo, padding
    left out): t = 1 − k·(1 − t_prior). The coupled fit says how much haze there is (k scales the prior's
    omega), the dark channel where it lies: on the dev half the nets' own map moved t the right way on
    average but its layout cost RESIDE and HSTS pairs what the amount gained (docs/findings.md)."""
    h, w = work
    k = (1 - t_net[..., :h, :w]).mean() / (1 - t_prior[..., :h, :w]).mean().clamp_min(1e-6)
    return (1 - k * (1 - t_prior)).clamp(0, 1)


def _without_nets(image: np.ndarray, img_w: np.ndarray, work: tuple[int, int], full: tuple[int, int],
                  s: DehazeSettings, airlight: np.ndarray, t_prior: np.ndarray | None, start: float) -> Dehazed:
    """--dip=false: no net built; t is the dark-channel prior's (`t_prior`, else He et al.'s estimate with
    the prior's omega) at the working size, then the same guided filter, clip and inversion as the nets' t
    gets. Its "reconstruction PSNR" is that of the haze model with this t, J and A at the working size."""
    small = crop(img_w, work)
    if t_prior is None:
        t_prior = dcp_transmission(small, airlight, s.t_prior_omega)
    t_w = resize(np.asarray(t_prior, np.float32), work)
    a = np.asarray(airlight, np.float32)
    a_w = np.broadcast_to(a, work + (3,)) if a.ndim == 1 else resize(a, work)
    tc = np.clip(t_w, s.t_min, 1)
    rebuilt = tc[:, :, None] * recover(small, tc, a_w) + (1 - tc[:, :, None]) * a_w
    mult = 2 ** len(s.channels)
    a_map = a.reshape(3, 1, 1) if a.ndim == 1 else pad_to_multiple(resize(a, work), mult).transpose(2, 0, 1)
    out = {"t": torch.from_numpy(pad_to_multiple(t_w, mult))[None], "A": torch.from_numpy(np.ascontiguousarray(a_map))}
    loop = LoopResult(iterations=0, stopped="no nets", best_psnr=psnr_db(float(np.mean((rebuilt - small) ** 2))),
                      best_step=0, best=out, last=out, history={"loss": [], "psnr": []}, optimizer=None)
    return _finish(image, img_w, out, work, full, s, loop, {}, start)


def _finish(image: np.ndarray, img_w: np.ndarray, best: dict[str, torch.Tensor], work: tuple[int, int],
            full: tuple[int, int], s: DehazeSettings, r: LoopResult | None, state: dict, start: float) -> Dehazed:
    """t: guided-filtered against the input (at the working size, applied at full size), clipped to
    [t_min, 1]; J recovered from them at full resolution (classical.haze.restore)."""
    t_w = crop(best["t"].float().cpu().numpy()[0], work)
    a = best["A"].float().cpu().numpy()
    constant = a.shape[-1] == 1 and a.shape[-2] == 1
    # one colour stays a colour (a broadcast view in restore), a map is brought to full size
    A = a[:, 0, 0].astype(np.float32) if constant else np.clip(resize(crop(a.transpose(1, 2, 0), work), full), 0, 1)
    J, t = restore(image, crop(img_w, work), t_w, A, scaled_radius(work, s.guided_radius), s.guided_eps, s.t_min)
    return Dehazed(J=J, t=t, A=np.broadcast_to(A, full + (3,)) if constant else A, loop=r,
                   airlight=A if constant else A.reshape(-1, 3).mean(axis=0), state=state, time_s=time.time() - start)
