import pytest
import torch

from net.noise import meshgrid_input, noise_input
from net.skip import skip
from utils.image_io import crop, pad_to_multiple


@pytest.mark.parametrize("h,w", [(37, 53), (64, 48), (9, 101)])
def test_output_shape_and_range_for_odd_image_sizes(h, w):
    import numpy as np
    net = skip(2, 3, [8, 16, 32], [8, 16, 32], [0, 0, 0])
    img = np.random.rand(h, w, 3).astype("float32")
    padded = pad_to_multiple(img, net.multiple)
    assert padded.shape[0] % 8 == 0 and padded.shape[1] % 8 == 0
    out = net(noise_input(2, padded.shape[:2]))
    assert out.shape == (1, 3, *padded.shape[:2])
    assert out.min() >= 0 and out.max() <= 1
    assert crop(out[0].permute(1, 2, 0).detach().numpy(), (h, w)).shape == (h, w, 3)


def test_skip_channels_and_depth_follow_the_arguments():
    net = skip(8, 1, [8, 16, 32, 64, 128], [8, 16, 32, 64, 128], [0, 0, 0, 4, 4], sigmoid=False)
    assert net.depth == 5 and net.multiple == 32
    out = net(torch.rand(1, 8, 64, 96))
    assert out.shape == (1, 1, 64, 96) and out.min() < 0  # no sigmoid: unbounded output


def test_grouped_network_equals_separate_networks():
    separate = [skip(2, 3, channels_skip=(0, 4, 4)) for _ in range(3)]
    grouped = skip(2, 3, channels_skip=(0, 4, 4), groups=3)
    state = grouped.state_dict()
    for k, v in state.items():
        if v.ndim:  # stack the separate nets' tensors group by group
            state[k] = torch.cat([n.state_dict()[k] for n in separate], 0)
    grouped.load_state_dict(state)
    xs = [torch.rand(1, 2, 32, 48) for _ in range(3)]
    expected = torch.cat([n(x) for n, x in zip(separate, xs, strict=True)], 1)
    assert torch.allclose(grouped(torch.cat(xs, 1)), expected, atol=1e-5)


def test_mismatched_channel_lists_are_rejected():
    with pytest.raises(ValueError):
        skip(2, 3, [8, 16], [8, 16, 32], [0, 0, 0])


def test_noise_inputs_are_uniform_scaled_and_meshgrid_spans_the_unit_square():
    x = noise_input(4, (10, 12), var=0.1)
    assert x.shape == (1, 4, 10, 12) and x.min() >= 0 and x.max() < 0.1
    g = meshgrid_input((5, 7))
    assert g.shape == (1, 2, 5, 7)
    assert g[0, 0, 0, 0] == 0 and g[0, 0, 0, -1] == 1 and g[0, 1, -1, 0] == 1
