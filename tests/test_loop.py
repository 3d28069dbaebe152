import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from net import loop
from net.loop import LoopSettings, NoiseSchedule, Plateau, Problem, Step, optimise, psnr
from utils.signals import STOP


def fit_problem():
    """A tiny 'system': one parameter image fitted to a target."""
    target = torch.rand(1, 3, 8, 8)
    net = nn.Module()
    net.x = nn.Parameter(torch.zeros(1, 3, 8, 8))

    def step(i):
        out = net.x
        return Step(((out - target) ** 2).mean(), out, {"out": out})
    return net, step, target


def test_loop_improves_psnr_and_keeps_the_best_outputs():
    net, step, target = fit_problem()
    r = optimise(Problem([net], step, target), 200, LoopSettings(lr=0.05, progress=False))
    assert r.stopped == "done" and r.iterations == 200
    assert r.history["psnr"][-1] > r.history["psnr"][0] + 10
    assert r.best_psnr == max(r.history["psnr"])
    assert psnr(r.best["out"], target) == pytest.approx(r.best_psnr)


def test_loop_stops_early_at_the_psnr_target():
    net, step, target = fit_problem()
    r = optimise(Problem([net], step, target), 1000, LoopSettings(lr=0.05, psnr_target=20.0, progress=False))
    assert r.stopped == "psnr_target" and r.iterations < 1000 and r.history["psnr"][-1] >= 20.0


def test_non_finite_loss_restores_the_best_state_and_stops():
    net, good_step, target = fit_problem()

    def step(i):
        s = good_step(i)
        return Step(s.loss * float("nan"), s.reconstruction) if i == 30 else s
    r = optimise(Problem([net], step, target), 100, LoopSettings(lr=0.05, progress=False))
    assert r.stopped == "non_finite" and r.iterations == 30
    # the parameters are back at the best iteration's: the last update before it was taken
    assert psnr(net.x, target) >= r.best_psnr - 0.5


def test_plateau_rule_stops_when_the_recent_gain_is_a_small_part_of_the_whole():
    rule = Plateau(window=3, fraction=0.25)
    assert not rule.reached(2, [10, 11, 12])
    assert not rule.reached(4, [10, 11, 12, 12.1, 12.2])  # 1.2 dB over the last 3 of 2.2 dB in all
    assert rule.reached(5, [10, 11, 12, 12.1, 12.2, 12.3])  # 0.3 dB of 2.3 dB: under a quarter
    assert not rule.reached(5, [20, 21, 22, 23, 24, 25])  # steady gain: no knee yet
    assert rule.reached(3, [10, 10, 10, 10])  # no gain at all
    assert not Plateau(window=3, fraction=0.25, min_iters=10).reached(5, [10, 11, 12, 12.1, 12.2, 12.3])
    # the loop passes only tracked iterations (from its track_from on): iteration 6 with 4 of them
    assert not rule.reached(6, [10, 11, 12, 13])
    assert rule.reached(7, [10, 12, 12.1, 12.2, 12.3])


def test_plateau_counts_the_gain_from_the_first_tracked_iteration():
    net, step, target = fit_problem()
    r = optimise(Problem([net], step, target), 300,
                 LoopSettings(lr=0.05, track_from=50, plateau=Plateau(window=10, fraction=0.25), progress=False))
    assert r.iterations > 50 + 10  # no stop before a window of tracked iterations
    assert r.best_step >= 50


def test_noise_schedule_warms_up_and_is_clean_on_the_last_iteration():
    s = NoiseSchedule(std=1 / 30, warmup_std=1 / 1000, warmup=10)
    assert s(0, 100) == 1 / 1000 and s(50, 100) == 1 / 30 and s(99, 100) == 0.0


def test_a_signal_stops_the_loop_cleanly():
    net, good_step, target = fit_problem()

    def step(i):
        if i == 10:
            STOP._handle(signal.SIGTERM, None)
        return good_step(i)
    try:
        r = optimise(Problem([net], step, target), 100, LoopSettings(lr=0.05, progress=False))
    finally:
        STOP.signal = None
    assert r.stopped == "interrupted" and r.iterations == 11 and r.best


def test_knobs_carry_each_iterations_values_into_the_step():
    from net.loop import Knobs
    net, fit_step, target = fit_problem()
    knobs = Knobs(lambda i: {"weight": float(i < 3), "ramp": (i + 1) / 5}, torch.device("cpu"))
    seen = []

    def step(i):
        seen.append((i, knobs["weight"].item(), knobs["ramp"].item()))
        return fit_step(i)
    optimise(Problem([net], step, target, knobs=knobs), 5, LoopSettings(progress=False))
    assert seen == [(i, float(i < 3), pytest.approx((i + 1) / 5)) for i in range(5)]


def test_watchers_see_the_current_outputs_every_few_iterations_and_at_the_last(monkeypatch):
    net, step, target = fit_problem()
    seen = []

    def watch(desc, i, total, outputs):
        seen.append((desc, i, float(((outputs["out"] - target) ** 2).mean())))
    monkeypatch.setattr(loop, "WATCHERS", [watch])
    optimise(Problem([net], step, target), 25, LoopSettings(lr=0.05, desc="fit", progress=False))
    assert [i for _, i, _ in seen] == [0, 10, 20, 24] and {d for d, _, _ in seen} == {"fit"}
    assert seen[-1][2] < seen[0][2]  # the outputs of that iteration, not the first ones again


def _fit(optimiser_class: type) -> list[torch.Tensor]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 3))
    x = torch.randn(2, 3, 16, 16)
    opt = optimiser_class([{"params": list(net[0].parameters())},
                           {"params": list(net[2].parameters()), "lr": 0.01}], lr=1e-3)
    for _ in range(5):
        opt.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
        opt.step()
    return [p.detach() for p in net.parameters()]


def test_our_adam_takes_exactly_torchs_steps():
    from net.loop import Adam
    assert all(torch.equal(a, b) for a, b in zip(_fit(Adam), _fit(torch.optim.Adam), strict=True))


def test_our_adam_leaves_torch_dynamo_unimported():
    """torch's own Adam imports torch._dynamo (seconds on a small CPU) on its first step; ours must not."""
    import subprocess
    import sys
    code = ("import sys, torch\nfrom net.loop import Adam\np = torch.nn.Parameter(torch.ones(3))\n"
            "opt = Adam([p], lr=0.1)\nopt.zero_grad()\n(p ** 2).sum().backward()\nopt.step()\n"
            "print('torch._dynamo' in sys.modules, float(p[0]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out[0] == "False" and float(out[1]) < 1.0  # stepped, without the import
