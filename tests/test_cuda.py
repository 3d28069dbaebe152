"""The GPU path (bf16 autocast, cuDNN benchmark mode): run whenever CUDA is available; skipped on CPU CI."""
import numpy as np
import pytest
import torch
from conftest import write_inputs
from helpers import results, run_script

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
                                         f"--precision={precision}", "--iters=60", "--progress=false",
                                         f"--output_dir={tmp_path}"])
    r = results(run)
    assert r["device"].startswith("cuda") and r["iterations_used"] == [60, 60]
    assert (run / "stage1_J.png").is_file() and np.isfinite(r["stages"][1]["reconstruction_psnr"])


def test_grouped_nets_equal_separate_nets_on_cuda():
    from net.skip import skip
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
