"""Seconds per iteration of the two coupled-DIP systems: our path (identical nets run as one grouped
network, channels-last) against a plain reference path (one nn.Module per net, eager fp32, default
layout), both in this process, with their ratio and the peak memory. Writes benchmarks/results/speed.md.

    python benchmarks/speed.py            # the issue's sizes: segmentation 224x320, dehazing 192x320
    python benchmarks/speed.py --quick    # a few iterations on small inputs (smoke test)
"""
from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from net import losses  # noqa: E402
from net.skip import skip  # noqa: E402


def seconds_per_iteration(nets: list[torch.nn.Module], inputs: list[torch.Tensor], loss_fn, iters: int,
                          warmup: int) -> float:
    """Median wall time of one Adam iteration (forward, loss, backward, step) after `warmup` iterations."""
    opt = torch.optim.Adam([p for n in nets for p in n.parameters()], lr=1e-3)
    times = []
    for i in range(warmup + iters):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn([n(x) for n, x in zip(nets, inputs, strict=True)])
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def segmentation_case(shape: tuple[int, int], grouped: bool):
    """Two-layer Double-DIP: fg, bg and mask nets [8, 16, 32], no skips, 2-channel input."""
    img = torch.rand(1, 3, *shape)
    if grouped:
        net = skip(2, 3, groups=3, sigmoid=False).to(memory_format=torch.channels_last)
        x = (torch.rand(1, 6, *shape) * 0.1).contiguous(memory_format=torch.channels_last)

        def loss(outs):
            o = torch.sigmoid(outs[0])
            y1, y2, m = o[:, 0:3], o[:, 3:6], o[:, 6:7]
            return losses.l1(m * y1 + (1 - m) * y2, img) + 0.01 * losses.binarisation(m)
        return [net], [x], loss
    nets = [skip(2, 3), skip(2, 3), skip(2, 1)]
    xs = [torch.rand(1, 2, *shape) * 0.1 for _ in nets]

    def loss_ref(outs):
        y1, y2, m = outs
        return losses.l1(m * y1 + (1 - m) * y2, img) + 0.01 * losses.binarisation(m)
    return nets, xs, loss_ref


def dehazing_case(shape: tuple[int, int], grouped: bool):
    """Double-DIP dehazing: J and t nets [8, 16, 32, 64, 128], skips [0, 0, 0, 4, 4], 8-channel input."""
    ch, sk = (8, 16, 32, 64, 128), (0, 0, 0, 4, 4)
    img, a = torch.rand(1, 3, *shape), torch.full((1, 3, 1, 1), 0.8)
    if grouped:
        net = skip(8, 3, ch, ch, sk, groups=2, sigmoid=False).to(memory_format=torch.channels_last)
        x = (torch.rand(1, 16, *shape) * 0.1).contiguous(memory_format=torch.channels_last)

        def loss(outs):
            j, t = torch.sigmoid(outs[0][:, :3]), torch.sigmoid(outs[0][:, 3:4])
            return losses.mse(t * j + (1 - t) * a, img) + 0.005 * losses.smoothness(t)
        return [net], [x], loss
    nets = [skip(8, 3, ch, ch, sk), skip(8, 1, ch, ch, sk)]
    xs = [torch.rand(1, 8, *shape) * 0.1 for _ in nets]

    def loss_ref(outs):
        j, t = outs
        return losses.mse(t * j + (1 - t) * a, img) + 0.005 * losses.smoothness(t)
    return nets, xs, loss_ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small inputs, few iterations")
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "speed.md"))
    args = ap.parse_args()
    torch.manual_seed(0)
    iters, warmup = (3, 1) if args.quick else (args.iters, 3)
    cases = [("two-layer segmentation (3 nets)", segmentation_case, (64, 96) if args.quick else (224, 320)),
             ("dehazing (J and t nets)", dehazing_case, (64, 96) if args.quick else (192, 320))]
    rows = []
    for name, make, shape in cases:
        ref = seconds_per_iteration(*make(shape, grouped=False), iters, warmup)
        ours = seconds_per_iteration(*make(shape, grouped=True), iters, warmup)
        rows.append((name, f"{shape[0]}x{shape[1]}", ref, ours, ref / ours))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [f"# Seconds per iteration ({platform.processor() or platform.machine()}, {torch.get_num_threads()} "
             f"threads, torch {torch.__version__}{', quick' if args.quick else ''})", "",
             "| system | size | reference (s/it) | ours (s/it) | speed-up |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {s} | {r:.4f} | {o:.4f} | {x:.2f}x |" for n, s, r, o, x in rows]
    lines += ["", f"Peak resident memory of this process: {peak_mb:.0f} MB.", "",
              "Median of the timed iterations after warm-up; both paths run in the same process.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
