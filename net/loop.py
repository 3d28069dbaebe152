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

from utils import checkpoint
from utils.device import adjust_threads
from utils.signals import STOP

WATCH_EVERY = 10  # iterations between calls of the watchers
# live views of a run (the web page's progress and current mask): each is called as watch(desc, iteration,
# iterations, outputs) every WATCH_EVERY iterations and at the last; `outputs` are the step's tensors, to be
# copied, not kept (on CUDA graphs they are overwritten by the next replay)
WATCHERS: list[Callable[[str, int, int, dict[str, torch.Tensor]], None]] = []


@dataclass
class Step:
    """What one iteration of a system returns: the loss to minimise, its reconstruction of the input
    (PSNR against the target decides the best state) and the outputs worth keeping."""
    loss: torch.Tensor
    reconstruction: torch.Tensor
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Problem:
    """What the loop fits: the nets (and `extra_params`), one iteration's `step`, the image its
    reconstruction must match, the `inputs` a checkpoint must keep (noise codes) and the `knobs` the
    loop sets before each iteration."""
    nets: Sequence[nn.Module]
    step: Callable[[int], Step]
    target: torch.Tensor
    extra_params: Sequence[nn.Parameter] = ()
    inputs: Sequence[torch.Tensor] = ()
    knobs: Knobs | None = None


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


@dataclass
class LoopSettings:
    """How the loop runs: Adam's learning rate, the early stops, which iterations may be the best state,
    the progress bar, and CUDA graphs (on a CUDA device)."""
    lr: float = 1e-3
    psnr_target: float | None = None  # stop once the reconstruction reaches it (None or 0: never)
    plateau: Plateau | None = None  # stop at the knee of the PSNR curve
    track_from: int = 0  # the best state is chosen from this iteration on
    desc: str = ""
    progress: bool = True
    cuda_graph: bool = False


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


def _undecorated(fn: Callable) -> Callable:
    """The function under a torch decorator (kept by functools.wraps as __wrapped__), else `fn` itself."""
    return getattr(fn, "__wrapped__", fn)


_ADD_GROUP = _undecorated(torch.optim.Optimizer.add_param_group)
_ZERO_GRAD = _undecorated(torch.optim.Optimizer.zero_grad)
_ADAM_STEP = _undecorated(torch.optim.Adam.step)


class Adam(torch.optim.Adam):
    """torch.optim.Adam, taking exactly its steps, without importing torch._dynamo.

    torch wraps these optimiser methods to keep torch.compile out of them, and the wrappers import
    torch._dynamo on their first call: 2.4 s of every run on a 2-core CPU (a sixth of a 12-MP dehaze),
    for a compiler no system here uses. These call the methods under the wrappers; the step runs without
    autograd, as torch's wrapper runs it (differentiable=False)."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _ADD_GROUP(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _ZERO_GRAD(self, set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        return _ADAM_STEP(self, closure)


def psnr_db(mse: float) -> float:
    """PSNR in dB of a mean squared error of [0, 1] images."""
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf


def psnr(x: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of x (clipped to [0, 1]) against target."""
    return psnr_db(torch.mean((x.detach().clamp(0, 1) - target) ** 2).item())


def optimise(problem: Problem, iters: int, settings: LoopSettings | None = None,
             optimizer: torch.optim.Optimizer | None = None) -> LoopResult:
    """Run `iters` iterations of `problem.step` with Adam over the parameters of its nets.

    The best state (weights and outputs) is the one with the highest reconstruction PSNR from iteration
    `settings.track_from` on; on a non-finite loss or output the nets are restored to it and the loop
    stops. A pending SIGINT/SIGTERM (utils.signals.STOP) also stops the loop; the result is returned
    either way so the caller can write it. With a checkpoint active (utils.checkpoint), the state of the
    nets, optimiser, extra parameters, inputs and RNG is saved as it goes, and a resumed run continues
    from it. `optimizer` continues an earlier call's Adam state (a step in several parts).

    With `settings.cuda_graph` on a CUDA device, the iteration is captured after a few eager ones and
    replayed: the step must then compute the same thing at every iteration (per-iteration values only
    through the problem's knobs), with static shapes.
    """
    s = settings or LoopSettings()
    params = [p for net in problem.nets for p in net.parameters()] + list(problem.extra_params)
    opt = optimizer or Adam(params, lr=s.lr)
    st, finished = _start(problem, opt)
    if finished:
        return st.result(opt)
    run = _iteration(problem, opt, s.cuda_graph)
    bar = tqdm(range(st.next, iters), desc=s.desc, disable=not s.progress, dynamic_ncols=True, leave=False,
               file=sys.stderr, initial=st.next, total=iters)
    for i in bar:
        adjust_threads()
        if STOP:
            st.stopped = "interrupted"
            break
        if problem.knobs is not None:
            problem.knobs.set(i)
        stats, outputs = run(i)
        loss, err = stats.tolist()  # the iteration's one host sync
        if not (math.isfinite(loss) and math.isfinite(err)):  # before the step: weights are still good
            st.restore_best(problem.nets)
            tqdm.write(f"warning: non-finite loss at iteration {i} of {s.desc or 'optimisation'}: "
                       f"restored the best state (iteration {st.best_step}) and stopped", file=sys.stderr)
            st.stopped = "non_finite"
            break
        p = psnr_db(err)
        st.record(i, loss, p, outputs, problem.nets, i >= s.track_from)
        if WATCHERS and (i % WATCH_EVERY == 0 or i == iters - 1):
            for watch in list(WATCHERS):
                watch(s.desc, i, iters, outputs)
        opt.step()
        st.next = i + 1
        if i % 10 == 0 or i == iters - 1:
            bar.set_postfix(loss=f"{loss:.4f}", psnr=f"{p:.2f}")
        st.stopped = _early_stop(s, i, p, st.best_curve) or st.stopped
        if st.stopped != "done":
            break
        if checkpoint.ACTIVE and checkpoint.ACTIVE.due(st.next) and st.next < iters:
            checkpoint.ACTIVE.save(_record(st, problem, opt, done=False))
    bar.close()
    if checkpoint.ACTIVE:  # an interrupted call is saved unfinished, so a resumed run continues it
        checkpoint.ACTIVE.save(_record(st, problem, opt, done=st.stopped != "interrupted"))
    if not st.last:  # stopped before its first iteration: the outputs of the current weights
        with torch.no_grad():
            st.last = {k: v.detach() for k, v in problem.step(st.next).outputs.items()}
    return st.result(opt)


def _early_stop(s: LoopSettings, i: int, psnr_now: float, best_curve: list[float]) -> str:
    """The reason to stop after iteration i ("" to go on): the PSNR target reached, or the plateau."""
    if s.psnr_target and psnr_now >= s.psnr_target and i >= s.track_from:
        return "psnr_target"
    if s.plateau is not None and s.plateau.reached(i, best_curve):
        return "plateau"
    return ""


def _iteration(problem: Problem, opt: torch.optim.Optimizer, cuda_graph: bool
               ) -> Callable[[int], tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """One iteration (forward, losses, backward) as a function of its index, returning the loss and the
    reconstruction error as one tensor, and the outputs (detached: nothing keeps this iteration's
    autograd graph alive into the next); captured as a CUDA graph where asked and possible."""
    target = problem.target

    def iteration(i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        opt.zero_grad(set_to_none=True)  # captured: backward then writes gradients from the graph's pool
        s = problem.step(i)
        s.loss.backward()
        err = torch.mean((s.reconstruction.detach().clamp(0, 1) - target) ** 2)
        return torch.stack([s.loss.detach(), err]), {k: v.detach() for k, v in s.outputs.items()}

    return Graphed(iteration, target.device) if cuda_graph and target.device.type == "cuda" else iteration


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

    def record(self, i: int, loss: float, p: float, outputs: dict[str, torch.Tensor], nets: Sequence[nn.Module],
               tracked: bool) -> None:
        """Log iteration i; from track_from on, keep its outputs and the weights that made them if it is
        the best so far (before the optimiser's step changes them)."""
        self.history["loss"].append(loss)
        self.history["psnr"].append(p)
        self.last = outputs
        if tracked and p > self.best_psnr:
            self.best_psnr, self.best_step = p, i
            self.best = {k: v.clone() for k, v in outputs.items()}  # outputs may alias what the step changes
            for net, w in zip(nets, self.best_weights, strict=True):
                for k, v in net.state_dict().items():
                    w[k].copy_(v)
        if tracked:
            self.best_curve.append(self.best_psnr)

    def restore_best(self, nets: Sequence[nn.Module]) -> None:
        for net, w in zip(nets, self.best_weights, strict=True):
            net.load_state_dict(w)

    def result(self, opt: torch.optim.Optimizer) -> LoopResult:
        return LoopResult(iterations=self.next, stopped=self.stopped, best_psnr=self.best_psnr,
                          best_step=self.best_step, best=self.best or self.last, last=self.last,
                          history=self.history, optimizer=opt)


def _start(problem: Problem, opt: torch.optim.Optimizer) -> tuple[_State, bool]:
    """The loop's state at its start: fresh, or (resuming a checkpointed run) the saved state of this
    call put back into the nets, optimiser, inputs and RNG. True when that call had already finished."""
    st = _State(best_weights=[{k: v.clone() for k, v in net.state_dict().items()} for net in problem.nets])
    saved = checkpoint.ACTIVE.next_call() if checkpoint.ACTIVE else None
    if saved is None:
        return st, False
    for net, w in zip(problem.nets, saved["nets"], strict=True):
        net.load_state_dict(w)
    opt.load_state_dict(saved["optimizer"])
    with torch.no_grad():
        for k, live in _tensors(problem).items():
            for t, v in zip(live, saved[k], strict=True):
                t.copy_(v)
    checkpoint.set_rng_state(saved["rng"])
    st = _State(**checkpoint.to_device(saved["state"], problem.target.device, copy=True))
    if not saved["done"]:
        st.stopped = "done"
    return st, bool(saved["done"])


def _tensors(problem: Problem) -> dict[str, list[torch.Tensor]]:
    return {"extra": list(problem.extra_params), "inputs": list(problem.inputs)}


def _record(st: _State, problem: Problem, opt: torch.optim.Optimizer, done: bool) -> dict:
    """A CPU copy of the call's whole state (copies: the live tensors change after this)."""
    return checkpoint.to_device({"done": done, "state": dict(vars(st)), "nets": [n.state_dict() for n in problem.nets],
                                 "optimizer": opt.state_dict(), "rng": checkpoint.rng_state(), **_tensors(problem)},
                                torch.device("cpu"), copy=True)
