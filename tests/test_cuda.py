"""The GPU path (bf16 autocast, cuDNN benchmark mode, CUDA graphs): run whenever CUDA is available;
skipped on CPU CI."""
import numpy as np
import pytest
import torch
from conftest import write_inputs
from helpers import results, run_script

from net.skip import skip

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("cuda"), (61, 93), 9)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_segmentation_on_cuda_beats_the_hints(files, tmp_path, precision):
    run = run_script("segmentation", [f"--input={files / 'img.png'}", f"--fg_hint={files / 'fg.png'}",
                                      f"--bg_hint={files / 'bg.png'}", f"--truth={files / 'truth.png'}",
                                      "--device=cuda", f"--precision={precision}", "--step1_iters=80",
                                      "--step2_iters=120", "--hint_iters=60", "--sharpen_ramp=60",
                                      "--progress=false", f"--output_dir={tmp_path}"])
    r = results(run)
    assert r["device"].startswith("cuda") and r["precision"] == precision
    assert r["iou_fg"] > r["iou_fg_hint_only"] + 0.05


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_two_stage_dehazing_on_cuda_writes_every_stage(files, tmp_path, precision):
    run = run_script("dehazing_system", [f"--input={files / 'hazy.png'}", "--device=cuda", "--stages=2",
                                         f"--precision={precision}", "--iters=60", "--iter_factor=0.25",
                                         "--progress=false", f"--output_dir={tmp_path}"])
    r = results(run)
    assert r["device"].startswith("cuda") and r["iterations_used"] == [60, 15]
    assert (run / "stage1_J.png").is_file() and np.isfinite(r["stages"][1]["reconstruction_psnr"])


def test_grouped_nets_equal_separate_nets_on_cuda():
    separate = [skip(2, 3, channels_skip=(0, 4, 4)).cuda() for _ in range(3)]
    grouped = skip(2, 3, channels_skip=(0, 4, 4), groups=3).cuda()
    state = grouped.state_dict()
    for k, v in state.items():
        if v.ndim:  # stack the separate nets' tensors group by group
            state[k] = torch.cat([n.state_dict()[k] for n in separate], 0)
    grouped.load_state_dict(state)
    xs = [torch.rand(1, 2, 32, 48, device="cuda") for _ in range(3)]
    expected = torch.cat([n(x) for n, x in zip(separate, xs, strict=True)], 1)
    assert torch.allclose(grouped(torch.cat(xs, 1)), expected, atol=2e-3)  # cuDNN may use TF32


def test_cuda_graph_replays_the_eager_iterations():
    """A step whose loss weight changes every iteration (through a knob): the captured graph must see
    each new value and follow the eager loop's trajectory."""
    from net.loop import Knobs, LoopSettings, Problem, Step, optimise
    target = torch.rand(1, 3, 16, 16, device="cuda")
    runs = []
    for graph in (False, True):
        torch.manual_seed(0)
        net = skip(2, 3, (8, 16), (8, 16), (0, 4)).cuda()
        x = torch.rand(1, 2, 16, 16, device="cuda")
        knobs = Knobs(lambda i: {"w": 1.0 + 0.1 * i}, torch.device("cuda"))

        def step(i, net=net, x=x, knobs=knobs):
            y = net(x)
            return Step(knobs["w"] * ((y - target) ** 2).mean(), y, {"y": y})
        runs.append(optimise(Problem([net], step, target, knobs=knobs), 30,
                             LoopSettings(lr=0.01, progress=False, cuda_graph=graph)))
    eager, graphed = runs
    assert graphed.iterations == 30
    # cuDNN's backward is not bit-deterministic, and Adam's first steps follow gradient signs: close, not
    # equal; a knob frozen at capture (iteration 3) would be 3x off by the last iteration
    assert np.allclose(eager.history["loss"], graphed.history["loss"], rtol=0.02)
    assert abs(eager.best_psnr - graphed.best_psnr) < 0.2


@pytest.mark.parametrize("script", ["segmentation", "dehazing_system"])
def test_scripts_give_the_same_result_with_and_without_cuda_graphs(files, tmp_path, script):
    args = {"segmentation": [f"--input={files / 'img.png'}", f"--fg_hint={files / 'fg.png'}",
                             f"--bg_hint={files / 'bg.png'}", f"--truth={files / 'truth.png'}",
                             "--step1_iters=60", "--step2_iters=90", "--hint_iters=45", "--sharpen_ramp=45"],
            "dehazing_system": [f"--input={files / 'hazy.png'}", "--stages=2", "--iters=60",
                                "--reg_noise=0"]}[script]  # no input jitter: the same random numbers either way
    r = [results(run_script(script, args + ["--device=cuda", "--precision=fp32", f"--cuda_graph={g}",
                                            "--progress=false", f"--output_dir={tmp_path / g}"]))
         for g in ("false", "true")]
    if script == "segmentation":
        assert abs(r[0]["iou_fg"] - r[1]["iou_fg"]) < 0.02
    else:
        psnrs = [[s["reconstruction_psnr"] for s in x["stages"]] for x in r]
        assert np.allclose(psnrs[0], psnrs[1], atol=0.1)
