import math

import pytest
import torch

from net import losses


def t(x):
    return torch.tensor(x, dtype=torch.float32)


def test_l1_and_mse_match_hand_values():
    a, b = t([[[[0.0, 1.0], [0.5, 0.25]]]]), t([[[[1.0, 1.0], [0.0, 0.25]]]])
    assert losses.l1(a, b).item() == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert losses.mse(a, b).item() == pytest.approx((1 + 0 + 0.25 + 0) / 4)


def test_hint_l1_is_the_mean_error_inside_the_hint():
    out = t([[[[0.0, 0.0], [0.0, 0.0]]]])
    img = t([[[[1.0, 0.5], [0.2, 0.0]]]])
    hint = t([[[[1.0, 1.0], [0.0, 0.0]]]])
    assert losses.hint_l1(out, img, hint).item() == pytest.approx((1.0 + 0.5) / 2)


def test_hint_l1_counts_every_channel_of_a_colour_image():
    out = torch.zeros(1, 3, 2, 2)
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0, 0, 0] = 0.9  # one channel of the one hinted pixel is off by 0.9
    hint = torch.zeros(1, 1, 2, 2)
    hint[0, 0, 0, 0] = 1
    assert losses.hint_l1(out, img, hint).item() == pytest.approx(0.9 / 3)


def test_hint_l1_is_zero_and_finite_on_an_empty_hint():
    v = losses.hint_l1(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.zeros(1, 1, 4, 4))
    assert torch.isfinite(v) and v.item() == 0.0


def test_smoothness_of_a_single_bright_pixel():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0  # one valid 5x5 window: centre 1, window mean 1/25
    assert losses.smoothness(x).item() == pytest.approx((1 - 1 / 25) ** 2)


def test_smoothness_is_zero_for_a_constant_colour_image():
    assert losses.smoothness(torch.full((1, 3, 9, 9), 0.3)).item() == pytest.approx(0.0, abs=1e-10)


def test_binarisation_is_two_for_a_binary_mask_and_large_for_grey():
    m = t([[[[0.0, 1.0], [1.0, 0.0]]]])
    assert losses.binarisation(m).item() == pytest.approx(2.0, rel=1e-5)
    assert losses.binarisation(torch.full((1, 1, 2, 2), 0.5)).item() > 1e5
    assert losses.binarisation(torch.full((1, 1, 2, 2), 0.75)).item() == pytest.approx(4.0, rel=1e-5)


def test_entropy_is_log_k_for_uniform_and_zero_for_one_hot():
    uniform = torch.full((1, 3, 2, 2), 1 / 3)
    assert losses.entropy(uniform).item() == pytest.approx(math.log(3), rel=1e-5)
    one_hot = torch.zeros(1, 3, 2, 2)
    one_hot[:, 1] = 1
    assert losses.entropy(one_hot).item() == pytest.approx(0.0, abs=1e-6)


def test_exclusion_is_zero_when_edges_do_not_coincide():
    a = torch.zeros(1, 1, 8, 8)
    a[:, :, :, 4:] = 1  # vertical edge: x-gradients only
    b = torch.zeros(1, 1, 8, 8)
    b[:, :, 4:, :] = 1  # horizontal edge: y-gradients only
    assert losses.exclusion(a, b, levels=1).item() == pytest.approx(0.0, abs=1e-6)


def test_exclusion_of_two_identical_ramps_matches_hand_value():
    d = 0.1
    ramp = torch.arange(6, dtype=torch.float32).view(1, 1, 1, 6).expand(1, 1, 6, 6) * d
    # x-gradients d everywhere, b's scaled by alpha = 2: s(g) = 2σ(g) − 1 = tanh(g / 2);
    # y-gradients are 0; the mean over the 2 directions halves the x term
    expected = 0.5 * math.sqrt(math.tanh(d / 2) * math.tanh(d))
    assert losses.exclusion(ramp, ramp.clone(), levels=1).item() == pytest.approx(expected, rel=1e-3)


def test_exclusion_has_finite_gradients_on_flat_layers():
    a = torch.zeros(1, 3, 8, 8, requires_grad=True)
    b = torch.rand(1, 3, 8, 8, requires_grad=True)
    losses.exclusion(a, b).backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
