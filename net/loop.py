"""The one optimisation loop every coupled-DIP system runs: Adam on the nets' parameters, the
reconstruction PSNR watched at every iteration, the best state kept, and clean stops (PSNR target,
plateau, NaN/Inf, Ctrl-C/SIGTERM)."""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm import tqdm

from utils.run import STOP


@dataclass
class Step:
    """What one iteration of a system returns: the loss to minimise, its reconstruction of the input
    (PSNR against the target decides the best state) and the outputs worth keeping."""
    loss: torch.Tensor
    reconstruction: torch.Tensor
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class LoopResult:
    iterations: int  # iterations actually run
    stopped: str  # "done", "psnr_target", "plateau", "non_finite" or "interrupted"
    best_psnr: float
    best_step: int
    best: dict[str, torch.Tensor]  # detached outputs of the best iteration
    last: dict[str, torch.Tensor]  # detached outputs of the last iteration
    history: dict[str, list[float]]  # per-iteration "loss" and "psnr"
    optimizer: torch.optim.Optimizer


@dataclass
class NoiseSchedule:
    """Std of the input jitter at iteration i: `warmup_std` for the first `warmup` iterations, then
    `std`; none on the final iteration so the kept result is the clean one (as in Double-DIP)."""
    std: float = 0.0
    warmup_std: float = 0.0
    warmup: int = 0

    def __call__(self, i: int, iters: int) -> float:
        if i >= iters - 1:
            return 0.0
        return self.warmup_std if i < self.warmup else self.std


@dataclass
class Plateau:
    """Stop once the best PSNR has gained less than `min_gain` dB over the last `window` iterations
    (never before `min_iters`)."""
    window: int = 200
    min_gain: float = 0.05
    min_iters: int = 0

    def reached(self, i: int, best_so_far: list[float]) -> bool:
        if i + 1 < max(self.window, self.min_iters) or len(best_so_far) <= self.window:
            return False
        return best_so_far[-1] - best_so_far[-1 - self.window] < self.min_gain


def psnr(x: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of x (clipped to [0, 1]) against target."""
    err = torch.mean((x.detach().clamp(0, 1) - target) ** 2).item()
    return 10.0 * math.log10(1.0 / err) if err > 0 else float("inf")


def optimise(nets: Sequence[nn.Module], step: Callable[[int], Step], iters: int, target: torch.Tensor, *,
             lr: float = 1e-3, psnr_target: float | None = None, plateau: Plateau | None = None,
             track_from: int = 0, optimizer: torch.optim.Optimizer | None = None,
             desc: str = "", progress: bool = True, extra_params: Sequence[nn.Parameter] = ()) -> LoopResult:
    """Run `iters` iterations of `step` with Adam (lr 1e-3) over the parameters of `nets`.

    The best state (weights and outputs) is the one with the highest reconstruction PSNR from
    iteration `track_from` on; on a non-finite loss or output the nets are restored to it and the loop
    stops. A pending SIGINT/SIGTERM (see utils.run.STOP) also stops the loop; the result is returned
    either way so the caller can write it.
    """
    params = [p for net in nets for p in net.parameters()] + list(extra_params)
    opt = optimizer or torch.optim.Adam(params, lr=lr)
    history: dict[str, list[float]] = {"loss": [], "psnr": []}
    best_curve: list[float] = []
    best_psnr, best_step = -math.inf, -1
    best_out: dict[str, torch.Tensor] = {}
    best_weights = [{k: v.clone() for k, v in net.state_dict().items()} for net in nets]  # updated in place
    last: dict[str, torch.Tensor] = {}
    stopped = "done"
    i = -1
    bar = tqdm(range(iters), desc=desc, disable=not progress, dynamic_ncols=True, leave=False, file=sys.stderr)
    for i in bar:
        if STOP:
            stopped, i = "interrupted", i - 1
            break
        opt.zero_grad(set_to_none=True)
        s = step(i)
        s.loss.backward()
        err = torch.mean((s.reconstruction.detach().clamp(0, 1) - target) ** 2)
        loss, err = torch.stack([s.loss.detach(), err]).tolist()  # the iteration's one host sync
        if not (math.isfinite(loss) and math.isfinite(err)):  # before the step: weights are still good
            for net, w in zip(nets, best_weights, strict=True):
                net.load_state_dict(w)
            tqdm.write(f"warning: non-finite loss at iteration {i} of {desc or 'optimisation'}: "
                       f"restored the best state (iteration {best_step}) and stopped", file=sys.stderr)
            stopped, i = "non_finite", i - 1
            break
        p = 10.0 * math.log10(1.0 / err) if err > 0 else math.inf
        history["loss"].append(loss)
        history["psnr"].append(p)
        last = {k: v.detach() for k, v in s.outputs.items()}
        if i >= track_from and p > best_psnr:  # the weights that produced these outputs, before the step
            best_psnr, best_step = p, i
            best_out = {k: v.clone() for k, v in last.items()}  # outputs may alias what the step changes
            for net, w in zip(nets, best_weights, strict=True):
                for k, v in net.state_dict().items():
                    w[k].copy_(v)
        opt.step()
        best_curve.append(max(best_psnr, -1e9))
        if i % 10 == 0 or i == iters - 1:
            bar.set_postfix(loss=f"{loss:.4f}", psnr=f"{p:.2f}")
        if psnr_target is not None and p >= psnr_target and i >= track_from:
            stopped = "psnr_target"
            break
        if plateau is not None and plateau.reached(i, best_curve):
            stopped = "plateau"
            break
    bar.close()
    if not best_out:
        best_out = last
    return LoopResult(iterations=i + 1, stopped=stopped, best_psnr=best_psnr, best_step=best_step,
                      best=best_out, last=last, history=history, optimizer=opt)
