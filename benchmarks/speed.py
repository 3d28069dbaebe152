"""Speed of the coupled-DIP systems, every figure a ratio against a baseline run in this same process.

1. Seconds per iteration (median after warm-up) of both systems at the issue's sizes: a plain
   reference path (one nn.Module per net, eager fp32, default layout) against our path (identical nets
   as one grouped network, channels-last), in fp32 and with bf16 autocast where the hardware has it;
   on CUDA also with forward and backward captured in a CUDA graph, as the scripts' loop does it.
   The variants run interleaved, one iteration each per round, and each speed-up is the median of the
   per-round ratios: on a shared machine whose speed drifts, that is the fair comparison.
2. End to end (`--e2e`): the experiment scripts on the bundled samples, which have ground truth, with the
   paper's schedule (segmentation 2000 + 4000 iterations, dehazing 4000; fp32) against our defaults (and
   our segmentation with half its iterations, and coarse-to-fine with 90% or all of them at half size; on
   CUDA also our defaults without CUDA graphs): quality reached and wall time.
3. Memory (`--memory`): peak resident memory of each script on a 4000x3000 photo (a subprocess each).

    python benchmarks/speed.py                        # 1, on the default device
    python benchmarks/speed.py --e2e --memory         # 1, 2 and 3 (about 30 minutes on a 2-core CPU)
    python benchmarks/speed.py --device=cuda --e2e    # on a GPU
    python benchmarks/speed.py --quick                # a few iterations on small inputs (smoke test)
Writes benchmarks/results/speed.md (speed_<device>.md for other devices than the CPU).
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from quality import run_script  # noqa: E402

from net import losses  # noqa: E402
from net.loop import Graphed  # noqa: E402
from net.precision import autocast, bf16_supported  # noqa: E402
from net.skip import skip  # noqa: E402
from utils.device import pick_device  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_iteration(nets: list[torch.nn.Module], inputs: list[torch.Tensor], loss_fn, device: torch.device,
                    precision: str = "fp32", graph: bool = False) -> Callable[[], float]:
    """A function that runs one Adam iteration (forward, loss, backward, step) and returns its wall time.
    With `graph`, forward, loss and backward are captured and replayed as the scripts' loop does it
    (net.loop.Graphed: 3 eager iterations, then the capture; Adam eager)."""
    params = [p for n in nets for p in n.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)

    def iteration(_: int = 0) -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with autocast(device, precision):
            outs = [n(x).float() for n, x in zip(nets, inputs, strict=True)]
        loss = loss_fn(outs)
        loss.backward()
        return loss.detach()

    forward_backward = Graphed(iteration, device) if graph else iteration

    def timed() -> float:
        sync(device)
        t = time.perf_counter()
        forward_backward(0)
        opt.step()
        sync(device)
        return time.perf_counter() - t
    return timed


def interleaved(runners: list[Callable[[], float]], rounds: int, warmup: int) -> tuple[list[float], list[float]]:
    """Each round runs one iteration of every variant in turn, so a slow spell of a shared machine hits
    them all alike. Returns each variant's median time and its median per-round speed-up over the first
    (the baseline)."""
    times: list[list[float]] = [[] for _ in runners]
    for r in range(warmup + rounds):
        for k, run in enumerate(runners):
            t = run()
            if r >= warmup:
                times[k].append(t)
    return ([statistics.median(t) for t in times],
            [statistics.median(b / x for b, x in zip(times[0], t, strict=True)) for t in times])


def segmentation_case(shape: tuple[int, int], grouped: bool, device: torch.device):
    """Two-layer Double-DIP: fg, bg and mask nets [8, 16, 32], no skips, 2-channel input."""
    img = torch.rand(1, 3, *shape, device=device)
    if grouped:
        net = skip(2, 3, groups=3, sigmoid=False).to(device, memory_format=torch.channels_last)
        x = (torch.rand(1, 6, *shape, device=device) * 0.1).contiguous(memory_format=torch.channels_last)

        def loss(outs):
            o = torch.sigmoid(outs[0])
            y1, y2, m = o[:, 0:3], o[:, 3:6], o[:, 6:7]
            return losses.l1(m * y1 + (1 - m) * y2, img) + 0.01 * losses.binarisation(m)
        return [net], [x], loss
    nets = [skip(2, 3).to(device), skip(2, 3).to(device), skip(2, 1).to(device)]
    xs = [torch.rand(1, 2, *shape, device=device) * 0.1 for _ in nets]

    def loss_ref(outs):
        y1, y2, m = outs
        return losses.l1(m * y1 + (1 - m) * y2, img) + 0.01 * losses.binarisation(m)
    return nets, xs, loss_ref


def segmentation_as_run_case(shape: tuple[int, int], grouped: bool, device: torch.device):
    """Our two-layer system as segmentation.py runs it (mask_input=texture): the fg and bg nets as one
    grouped network, the mask a per-pixel classifier of texture statistics (net.segment). Its reference
    is the paper's system, as in segmentation_case: what a user's iteration costs against the paper's."""
    if not grouped:
        return segmentation_case(shape, False, device)
    from classical.texture import texture_features
    from net.segment import SegmentSettings, texture_classifier
    img = torch.rand(1, 3, *shape, device=device)
    feats = torch.from_numpy(texture_features(img[0].permute(1, 2, 0).cpu().numpy())).to(device)[None]
    net = skip(2, 3, groups=2, sigmoid=False).to(device, memory_format=torch.channels_last)
    mask = texture_classifier(feats.shape[1], SegmentSettings.texture_hidden, 1).to(device)
    x = (torch.rand(1, 4, *shape, device=device) * 0.1).contiguous(memory_format=torch.channels_last)

    def loss(outs):
        y1, y2, m = torch.sigmoid(outs[0][:, 0:3]), torch.sigmoid(outs[0][:, 3:6]), torch.sigmoid(outs[1])
        return losses.l1(m * y1 + (1 - m) * y2, img) + 0.01 * losses.binarisation(m)
    return [net, mask], [x, feats], loss


def dehazing_case(shape: tuple[int, int], grouped: bool, device: torch.device):
    """Double-DIP dehazing: J and t nets [8, 16, 32, 64, 128], skips [0, 0, 0, 4, 4], 8-channel input."""
    ch, sk = (8, 16, 32, 64, 128), (0, 0, 0, 4, 4)
    img, a = torch.rand(1, 3, *shape, device=device), torch.full((1, 3, 1, 1), 0.8, device=device)
    if grouped:
        net = skip(8, 3, ch, ch, sk, groups=2, sigmoid=False).to(device, memory_format=torch.channels_last)
        x = (torch.rand(1, 16, *shape, device=device) * 0.1).contiguous(memory_format=torch.channels_last)

        def loss(outs):
            j, t = torch.sigmoid(outs[0][:, :3]), torch.sigmoid(outs[0][:, 3:4])
            return losses.mse(t * j + (1 - t) * a, img) + 0.005 * losses.smoothness(t)
        return [net], [x], loss
    nets = [skip(8, 3, ch, ch, sk).to(device), skip(8, 1, ch, ch, sk).to(device)]
    xs = [torch.rand(1, 8, *shape, device=device) * 0.1 for _ in nets]

    def loss_ref(outs):
        j, t = outs
        return losses.mse(t * j + (1 - t) * a, img) + 0.005 * losses.smoothness(t)
    return nets, xs, loss_ref


def per_iteration(device: torch.device, quick: bool, iters: int) -> list[str]:
    iters, warmup = (3, 1) if quick else (iters, 3)
    if device.type == "cuda":
        warmup += 4  # a CUDA graph: 3 eager iterations, then the capture
    cases = [("two-layer segmentation (3 nets)", segmentation_case, (64, 96) if quick else (224, 320)),
             ("two-layer segmentation as our script runs it (2 nets + texture mask)", segmentation_as_run_case,
              (64, 96) if quick else (224, 320)),
             ("dehazing (J and t nets)", dehazing_case, (64, 96) if quick else (192, 320))]
    variants = [("ours fp32", "fp32", False)]
    if bf16_supported(device):
        variants.append(("ours bf16", "bf16", False))
    if device.type == "cuda":
        variants += [("ours fp32 + CUDA graph", "fp32", True), ("ours bf16 + CUDA graph", "bf16", True)]
    lines = ["| system | size | reference (s/it) | " + " | ".join(f"{v} (s/it, speed-up)" for v, _, _ in variants)
             + " |", "|---|---|---|" + "---|" * len(variants)]
    for name, make, shape in cases:
        torch.manual_seed(0)
        runners, cells = [timed_iteration(*make(shape, False, device), device)], []
        for _, prec, graph in variants:
            torch.manual_seed(0)
            run = timed_iteration(*make(shape, True, device), device, prec, graph)
            try:  # a variant this machine cannot run is reported, not fatal (a graph: up to its capture)
                for _ in range(4 if graph else 1):
                    run()
                runners.append(run)
                cells.append("")
            except Exception as e:
                cells.append(f"failed: {type(e).__name__}")
        medians, speedups = interleaved(runners, iters, warmup)
        measured = iter(zip(medians[1:], speedups[1:], strict=True))
        cells = [c or "{:.4f} ({:.2f}x)".format(*next(measured)) for c in cells]
        lines.append(f"| {name} | {shape[0]}x{shape[1]} | {medians[0]:.4f} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr, flush=True)  # progress: each row as soon as it is measured
    return lines


HALF_SEG = ["--step1_iters=150", "--step2_iters=300", "--hint_iters=150", "--sharpen_ramp=150"]


def end_to_end(device: torch.device, quick: bool, out_dir: Path) -> list[str]:
    """The paper's schedule against our defaults on the bundled samples with ground truth."""
    common = [f"--device={device}", "--progress=false", f"--output_dir={out_dir}"]
    fast = {"seg": ["--step1_iters=20", "--step2_iters=20", "--hint_iters=10", "--sharpen_ramp=10"],
            "paper_seg": ["--step1_iters=40", "--step2_iters=40", "--hint_iters=20", "--sharpen_ramp=20"],
            "dehaze": ["--iters=20"], "paper_dehaze": ["--iters=40"]} if quick else {}
    rows = []
    for system, script, paper, metric in (
            ("two-layer segmentation", "segmentation", ["--preset=paper", "--precision=fp32"], "iou_fg"),
            ("dehazing", "dehazing_system", ["--preset=paper_single", "--precision=fp32"], "psnr_gt")):
        key = "seg" if script == "segmentation" else "dehaze"
        runs = {}
        ours = [("ours (defaults)", fast.get(key, []))]
        if key == "seg":  # our texture mask needs fewer iterations than the paper's noise-fed one
            ours.append(("ours, half the iterations", fast.get(key) or HALF_SEG))
            # coarse-to-fine: most (or all) iterations at half the working size
            shares = (("90% of the iterations", 0.9), ("every iteration", 1.0))
            ours += [(f"ours, {share} at half size (--coarse={c})", fast.get(key, []) + [f"--coarse={c}"])
                     for share, c in shares]
        if device.type == "cuda":  # what capturing the iteration as a CUDA graph saves end to end
            ours.append(("ours, no CUDA graph", fast.get(key, []) + ["--cuda_graph=false"]))
        for label, args in [("paper schedule", paper + fast.get(f"paper_{key}", []))] + ours:
            r = run_script(script, common + args)
            value = r[metric] if metric in r else r["final"][metric]
            iters = [s["iterations"] for s in r["steps"].values()] if "steps" in r else r["iterations_used"]
            runs[label] = (value, r["wall_time_s"], iters, r["precision"])
        q_p, t_p = runs["paper schedule"][:2]
        for label, (q, t, iters, prec) in runs.items():
            unit = "IoU" if metric == "iou_fg" else "dB"
            rows.append(f"| {system} | {label} | {'+'.join(map(str, iters))} ({prec}) | {q:.3f} {unit} | {t:.1f} | "
                        + (f"{t_p / t:.1f}x faster, {'at least as good' if q >= q_p else 'WORSE'}"
                           if label != "paper schedule" else "") + " |")
    return ["| system | schedule | iterations | quality vs truth | wall time (s) | ours vs paper |",
            "|---|---|---|---|---|---|"] + rows


def memory(quick: bool, out_dir: Path) -> list[str]:
    """Peak RSS of each script on a synthetic 4000x3000 photo (few iterations: memory, not quality)."""
    import cv2
    import numpy as np
    h, w = (600, 800) if quick else (3000, 4000)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    photo = np.dstack([np.sin(xx / 300), np.cos(yy / 200), np.sin((xx + yy) / 500)]) * 0.3 + 0.5
    path = out_dir / "photo.jpg"
    cv2.imwrite(str(path), (photo * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 92])
    rows = ["| script | input | working size | peak RSS (MB) |", "|---|---|---|---|"]
    for script, args in (("segmentation.py", ["--step1_iters=5", "--auto_step2_iters=5", "--hints=histogram"]),
                         ("dehazing_system.py", ["--iters=5"])):
        code = (f"import resource, runpy, sys; sys.argv = {[script, f'--input={path}', f'--output_dir={out_dir}', '--progress=false', '--device=cpu'] + args!r}\n"  # noqa: E501
                f"try:\n    runpy.run_path({script!r}, run_name='__main__')\nfinally:\n"
                "    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
        p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        peak = int(re.search(r"peak_rss_kb (\d+)", p.stderr).group(1)) / 1024
        run = Path(p.stdout.strip().splitlines()[-1])
        work = json.loads((run / "results.json").read_text())["config"]["max_side"]
        status = "" if p.returncode == 0 else " (failed)"
        rows.append(f"| {script} | {w}x{h} | longest side {work} | {peak:.0f}{status} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small inputs, few iterations (smoke test)")
    ap.add_argument("--iters", type=int, default=30, help="timed iterations per variant (rounds)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--e2e", action="store_true", help="also the end-to-end comparison with the paper's schedule")
    ap.add_argument("--memory", action="store_true", help="also the peak memory on a 4000x3000 photo")
    ap.add_argument("--out", default="", help="markdown file to write (default benchmarks/results/speed[_DEV].md)")
    args = ap.parse_args(argv)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    machine = (torch.cuda.get_device_name(device) if device.type == "cuda"
               else f"{platform.machine()} CPU ({torch.backends.cpu.get_cpu_capability()}), "
                    f"{torch.get_num_threads()} threads")
    lines = [f"# Speed on {machine}, torch {torch.__version__}{' (quick)' if args.quick else ''}", "",
             f"`python benchmarks/speed.py {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             "## Seconds per iteration", ""] + per_iteration(device, args.quick, args.iters) + [
             "", "Every variant runs in this process, interleaved: each round runs one iteration of each (reference "
             "first), so a slow spell of a shared machine hits them all alike. s/it: median after warm-up; "
             "speed-up: median over the rounds of the reference's time over the variant's.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        if args.e2e:
            start = time.time()
            lines += ["## End to end, against the paper's schedule", ""] + end_to_end(device, args.quick, Path(tmp)) + [
                "", f"Bundled samples (images/), scored against their truth; {time.time() - start:.0f} s in all.", ""]
        if args.memory:
            lines += ["## Memory", ""] + memory(args.quick, Path(tmp)) + [""]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += [f"Peak resident memory of this benchmark process: {peak_mb:.0f} MB.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        out = Path(args.out or ROOT / "benchmarks" / "results" /
                   ("speed.md" if device.type == "cpu" else f"speed_{device.type}.md"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
