"""The one optimisation loop every coupled-DIP system runs: Adam on the nets' parameters, the
reconstruction PSNR watched at every iteration, the best state kept, and clean stops (PSNR target,
plateau, NaN/Inf, Ctrl-C/SIGTERM). On CUDA the iteration (forward, losses, backward) can be captured
once as a CUDA graph and replayed: a DIP iteration is hundreds of small kernels, launch-bound on a GPU."""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from net import checkpoint
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
    """Stop at the knee of the PSNR curve: once the best PSNR has gained no more over the last `window`
    iterations than `fraction` of all it has gained since the first iteration (never before `min_iters`).
    Scale-free: it needs no dB threshold, which would depend on the image. A DIP's fast early gain
    is the structure; the slow steady gain after the knee is the over-fitting (of haze, of noise)."""
    window: int = 30
    fraction: float = 0.25
    min_iters: int = 0

    def reached(self, i: int, best_so_far: list[float]) -> bool:
        """`best_so_far`: the best PSNR after each tracked iteration (from the loop's track_from on)."""
        if i + 1 < max(self.window, self.min_iters) or len(best_so_far) <= self.window:
            return False
        recent = best_so_far[-1] - best_so_far[-1 - self.window]
        return recent <= self.fraction * (best_so_far[-1] - best_so_far[0])


class Knobs:
    """A system's per-iteration scalars (loss weights, noise std), held in one device tensor.

    A step reads them as tensors (`knobs["ramp"]`) instead of branching on the iteration, so its
    computation is the same at every iteration and one captured CUDA graph serves them all;
    `schedule(i)` gives their values at iteration i, written by the loop before each iteration."""

    def __init__(self, schedule: Callable[[int], dict[str, float]], device: torch.device) -> None:
        self.schedule = schedule
        self.names = list(schedule(0))
        self.values = torch.zeros(len(self.names), device=device)
        # pinned on CUDA: the copy is queued without waiting for the GPU (the loop's one sync per iteration
        # guarantees the previous copy has landed before the buffer is written again)
        self._host = torch.zeros(len(self.names), pin_memory=device.type == "cuda")

    def set(self, i: int) -> None:
        values = self.schedule(i)
        for k, n in enumerate(self.names):
            self._host[k] = values[n]
        self.values.copy_(self._host, non_blocking=True)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.values[self.names.index(name)]


def psnr(x: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of x (clipped to [0, 1]) against target."""
    err = torch.mean((x.detach().clamp(0, 1) - target) ** 2).item()
    return 10.0 * math.log10(1.0 / err) if err > 0 else float("inf")


def optimise(nets: Sequence[nn.Module], step: Callable[[int], Step], iters: int, target: torch.Tensor, *,
             lr: float = 1e-3, psnr_target: float | None = None, plateau: Plateau | None = None,
             track_from: int = 0, optimizer: torch.optim.Optimizer | None = None,
             desc: str = "", progress: bool = True, extra_params: Sequence[nn.Parameter] = (),
             inputs: Sequence[torch.Tensor] = (), knobs: Knobs | None = None,
             cuda_graph: bool = False) -> LoopResult:
    """Run `iters` iterations of `step` with Adam (lr 1e-3) over the parameters of `nets`.

    The best state (weights and outputs) is the one with the highest reconstruction PSNR from
    iteration `track_from` on; on a non-finite loss or output the nets are restored to it and the loop
    stops. A pending SIGINT/SIGTERM (see utils.run.STOP) also stops the loop; the result is returned
    either way so the caller can write it. With a checkpoint active (net.checkpoint), the state of the
    nets, optimiser, extra parameters, `inputs` (e.g. noise codes) and RNG is saved as it goes, and a
    resumed run continues from it.

    `knobs` are set for each iteration before `step` runs. With `cuda_graph` on a CUDA device, the
    iteration is captured after a few eager ones and replayed: `step` must then compute the same thing
    at every iteration (per-iteration values only through `knobs`), with static shapes.
    """
    params = [p for net in nets for p in net.parameters()] + list(extra_params)
    opt = optimizer or torch.optim.Adam(params, lr=lr)
    st = _State(best_weights=[{k: v.clone() for k, v in net.state_dict().items()} for net in nets])
    ck = checkpoint.ACTIVE
    tensors = {"extra": list(extra_params), "inputs": list(inputs)}
    saved = ck.next_call() if ck else None
    if saved is not None:
        st = _restore(saved, nets, opt, tensors)
        if saved["done"]:
            return st.result(opt)
    device = target.device
    graphed = cuda_graph and device.type == "cuda"

    def iteration(i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward, losses, backward: loss and reconstruction error as one tensor, and the outputs (detached:
        nothing keeps this iteration's autograd graph alive into the next)."""
        opt.zero_grad(set_to_none=True)  # captured: backward then writes gradients from the graph's pool
        s = step(i)
        s.loss.backward()
        err = torch.mean((s.reconstruction.detach().clamp(0, 1) - target) ** 2)
        return torch.stack([s.loss.detach(), err]), {k: v.detach() for k, v in s.outputs.items()}

    run = Graphed(iteration, device) if graphed else iteration
    bar = tqdm(range(st.next, iters), desc=desc, disable=not progress, dynamic_ncols=True, leave=False,
               file=sys.stderr, initial=st.next, total=iters)
    for i in bar:
        if STOP:
            st.stopped = "interrupted"
            break
        if knobs is not None:
            knobs.set(i)
        stats, outputs = run(i)
        loss, err = stats.tolist()  # the iteration's one host sync
        if not (math.isfinite(loss) and math.isfinite(err)):  # before the step: weights are still good
            for net, w in zip(nets, st.best_weights, strict=True):
                net.load_state_dict(w)
            tqdm.write(f"warning: non-finite loss at iteration {i} of {desc or 'optimisation'}: "
                       f"restored the best state (iteration {st.best_step}) and stopped", file=sys.stderr)
            st.stopped = "non_finite"
            break
        p = 10.0 * math.log10(1.0 / err) if err > 0 else math.inf
        st.history["loss"].append(loss)
        st.history["psnr"].append(p)
        st.last = outputs
        if i >= track_from and p > st.best_psnr:  # the weights that produced these outputs, before the step
            st.best_psnr, st.best_step = p, i
            st.best = {k: v.clone() for k, v in st.last.items()}  # outputs may alias what the step changes
            for net, w in zip(nets, st.best_weights, strict=True):
                for k, v in net.state_dict().items():
                    w[k].copy_(v)
        opt.step()
        st.next = i + 1
        if i >= track_from:
            st.best_curve.append(st.best_psnr)
        if i % 10 == 0 or i == iters - 1:
            bar.set_postfix(loss=f"{loss:.4f}", psnr=f"{p:.2f}")
        if psnr_target is not None and p >= psnr_target and i >= track_from:
            st.stopped = "psnr_target"
            break
        if plateau is not None and plateau.reached(i, st.best_curve):
            st.stopped = "plateau"
            break
        if ck and ck.due(st.next) and st.next < iters:
            ck.save(_record(st, nets, opt, tensors, done=False))
    bar.close()
    if ck:  # an interrupted call is saved unfinished, so a resumed run continues it
        ck.save(_record(st, nets, opt, tensors, done=st.stopped != "interrupted"))
    if not st.last:  # stopped before its first iteration: the outputs of the current weights
        with torch.no_grad():
            st.last = {k: v.detach() for k, v in step(st.next).outputs.items()}
    return st.result(opt)


class Graphed:
    """`iteration` run eagerly `warmup` times on a side stream (cuDNN autotuning, gradient buffers), then
    captured once as a CUDA graph and replayed: each later call launches the whole iteration at once
    and returns the same (static) output tensors, overwritten in place."""

    def __init__(self, iteration: Callable[[int], Any], device: torch.device, warmup: int = 3) -> None:
        self.iteration, self.device, self.warmup = iteration, device, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: Any = None

    def __call__(self, i: int) -> Any:
        main = torch.cuda.current_stream(self.device)
        if self.warmup > 0:
            self.warmup -= 1
            side = torch.cuda.Stream(self.device)
            side.wait_stream(main)
            with torch.cuda.stream(side):
                out = self.iteration(i)
            main.wait_stream(side)
            return out
        if self.graph is None:
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.static = self.iteration(i)
        self.graph.replay()
        return self.static


@dataclass
class _State:
    """The loop's bookkeeping: everything a checkpoint needs besides nets, optimiser and RNG."""
    best_weights: list[dict[str, torch.Tensor]]  # updated in place
    next: int = 0  # next iteration to run
    stopped: str = "done"
    best_psnr: float = -math.inf
    best_step: int = -1
    best: dict[str, torch.Tensor] = field(default_factory=dict)
    last: dict[str, torch.Tensor] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=lambda: {"loss": [], "psnr": []})
    best_curve: list[float] = field(default_factory=list)

    def result(self, opt: torch.optim.Optimizer) -> LoopResult:
        return LoopResult(iterations=self.next, stopped=self.stopped, best_psnr=self.best_psnr,
                          best_step=self.best_step, best=self.best or self.last, last=self.last,
                          history=self.history, optimizer=opt)


def _record(st: _State, nets: Sequence[nn.Module], opt: torch.optim.Optimizer,
            tensors: dict[str, list[torch.Tensor]], done: bool) -> dict:
    """A CPU copy of the call's whole state (copies: the live tensors change after this)."""
    cpu = torch.device("cpu")
    return _to({"done": done, "state": dict(vars(st)), "nets": [n.state_dict() for n in nets],
                "optimizer": opt.state_dict(), "rng": checkpoint.rng_state(), **tensors}, cpu, copy=True)


def _restore(rec: dict, nets: Sequence[nn.Module], opt: torch.optim.Optimizer,
             tensors: dict[str, list[torch.Tensor]]) -> _State:
    """Put a checkpoint record's state back into the live nets, optimiser, tensors and RNG."""
    for net, w in zip(nets, rec["nets"], strict=True):
        net.load_state_dict(w)
    opt.load_state_dict(rec["optimizer"])
    with torch.no_grad():
        for k, live in tensors.items():
            for t, v in zip(live, rec[k], strict=True):
                t.copy_(v)
    checkpoint.set_rng_state(rec["rng"])
    device = next((t.device for n in nets for t in n.parameters()), torch.device("cpu"))
    st = _State(**_to(rec["state"], device, copy=True))
    if not rec["done"]:
        st.stopped = "done"
    return st


def _to(x: Any, device: torch.device, copy: bool = False) -> Any:
    """x with every tensor inside (dicts, lists, tuples) moved to `device` (and copied if asked)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to(device)
        return x.clone() if copy else x
    if isinstance(x, dict):
        return {k: _to(v, device, copy) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device, copy) for v in x)
    return x
