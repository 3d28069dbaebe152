import numpy as np
import torch

import segmentation
from classical.texture import GABOR_ORIENTATIONS, GABOR_WAVELENGTHS, gabor_energy, texture_features
from net.segment import SegmentSettings, segment
from utils.config import defaults, settings_from
from utils.metrics import iou
from utils.synthetic import eroded_hints


def seg_settings(**changes) -> SegmentSettings:
    """segmentation.py's defaults (on the CPU, in fp32) with `changes`."""
    return settings_from(SegmentSettings, defaults(vars(segmentation), precision="fp32"), **changes)


def equal_mean_textures(shape: tuple[int, int] = (64, 96), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey speckle inside an ellipse on grey stripes: the same mean and spread, different texture."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    truth = ((yy - h * 0.5) / (h * 0.33)) ** 2 + ((xx - w * 0.5) / (w * 0.3)) ** 2 <= 1
    speckle = 0.5 + 0.2 * np.sign(rng.standard_normal((h, w)))
    stripes = 0.5 + 0.2 * np.sign(np.sin((xx + 0.5 * yy) * 0.8))
    grey = np.where(truth, speckle, stripes).astype(np.float32)
    return np.repeat(grey[:, :, None], 3, axis=2), truth


def test_texture_features_are_standardised_maps_at_the_image_size():
    img, _ = equal_mean_textures()
    f = texture_features(img)
    assert f.dtype == np.float32 and f.shape[1:] == img.shape[:2] and f.shape[0] >= 9
    assert np.isfinite(f).all()
    np.testing.assert_allclose(f.reshape(len(f), -1).mean(axis=1), 0, atol=1e-3)


def test_texture_features_tell_apart_textures_of_the_same_mean():
    img, truth = equal_mean_textures()
    inner = np.asarray(truth)
    f = texture_features(img)
    gap = max(abs(m[inner].mean() - m[~inner].mean()) for m in f)  # maps have unit spread
    assert gap > 1.0
    assert abs(img[inner].mean() - img[~inner].mean()) < 0.02  # while the grey level alone cannot


def test_texture_mask_finds_the_region_beyond_its_hints():
    img, truth = equal_mean_textures()
    hints = eroded_hints(truth.astype(np.uint8), [1, 0], size=11)
    s = seg_settings(mask_input="texture", step1_iters=60, step2_iters=60, hint_iters=30, sharpen_ramp=30,
                        progress=False, cut=False)  # the mask's own labels: no colour model can tell these apart
    r = segment(img, hints, s, torch.device("cpu"))
    found = iou(r.labels == 0, truth)
    assert found > iou(hints[0] > 0, truth) + 0.15
    assert found > 0.85


def test_gabor_energies_tell_the_orientation_of_stripes():
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    vertical = 0.5 + 0.3 * np.sin(2 * np.pi * xx / 8)  # stripes of wavelength 8 px, varying along x
    maps = {}
    for name, grey in (("vertical", vertical), ("horizontal", vertical.T.copy())):
        energies = gabor_energy(grey)
        assert len(energies) == len(GABOR_WAVELENGTHS) * GABOR_ORIENTATIONS
        wavelength_8 = energies[GABOR_ORIENTATIONS:2 * GABOR_ORIENTATIONS]  # orientations 0, 45, 90, 135 deg
        maps[name] = [m[16:48, 16:48].mean() for m in wavelength_8]
    assert np.argmax(maps["vertical"]) == 0 and np.argmax(maps["horizontal"]) == 2


def test_gabor_option_adds_the_filter_bank_to_the_features():
    img, _ = equal_mean_textures()
    base, more = texture_features(img), texture_features(img, gabor=True)
    assert len(more) == len(base) + len(GABOR_WAVELENGTHS) * GABOR_ORIENTATIONS and np.isfinite(more).all()


def test_coarse_to_fine_runs_most_iterations_at_half_size_and_still_finds_the_region():
    img, truth = equal_mean_textures((64, 96))
    hints = eroded_hints(truth.astype(np.uint8), [1, 0], size=11)
    s = seg_settings(mask_input="texture", step1_iters=60, step2_iters=60, hint_iters=30, sharpen_ramp=30,
                        coarse=0.75, progress=False, cut=False)
    r = segment(img, hints, s, torch.device("cpu"))
    assert {k: v.iterations for k, v in r.steps.items()} == {"step1_coarse": 45, "step1": 15,
                                                             "step2_coarse": 45, "step2": 15}
    assert r.steps["step2_coarse"].best["mask"].shape[-2:] == (32, 48)  # half size
    assert r.steps["step2"].best["mask"].shape[-2:] == (64, 96)
    assert r.labels.shape == truth.shape and r.soft.shape == (2,) + truth.shape
    found = iou(r.labels == 0, truth)
    assert found > iou(hints[0] > 0, truth) + 0.15
    assert found > 0.85


def test_cut_labels_keep_textures_alike_in_colour_above_the_hints():
    """The cut's colour models cannot tell equal-mean textures apart; their weight falls with how badly they
    separate the hints, and the mask carries the labels."""
    img, truth = equal_mean_textures()
    hints = eroded_hints(truth.astype(np.uint8), [1, 0], size=11)
    s = seg_settings(mask_input="texture", step1_iters=60, step2_iters=60, hint_iters=30, sharpen_ramp=30,
                     progress=False)
    r = segment(img, hints, s, torch.device("cpu"))
    assert iou(r.labels == 0, truth) > iou(hints[0] > 0, truth) + 0.15


def test_coarse_to_fine_keeps_one_adam_state_and_the_step_schedules_across_sizes():
    img, truth = equal_mean_textures((48, 64))
    hints = eroded_hints(truth.astype(np.uint8), [1, 0], size=9)
    s = seg_settings(step1_iters=4, step2_iters=10, hint_iters=5, sharpen_ramp=5, coarse=0.5, progress=False)
    r = segment(img, hints, s, torch.device("cpu"))
    fine_opt = r.steps["step2"].optimizer
    assert fine_opt is r.steps["step2_coarse"].optimizer  # the fine part goes on with the coarse part's moments
    assert fine_opt is not r.steps["step1"].optimizer  # each step starts a fresh Adam, as without coarse
    step = next(iter(fine_opt.state.values()))["step"]
    assert int(step) == 10
    # step 2 tracks its best from iteration 5 (hint_iters), where the fine part starts; the coarse part
    # still keeps its last iteration, the result should a stop end the step there
    assert r.steps["step2_coarse"].best_step == 4 and r.steps["step2_coarse"].best


def test_a_step_of_zero_iterations_still_gives_its_outputs_with_and_without_coarse():
    img, truth = equal_mean_textures((32, 48))
    hints = eroded_hints(truth.astype(np.uint8), [1, 0], size=5)
    for coarse in (0.0, 0.5):
        r = segment(img, hints, seg_settings(step1_iters=0, step2_iters=4, hint_iters=2, sharpen_ramp=2,
                                                coarse=coarse, progress=False), torch.device("cpu"))
        assert r.steps["step1"].iterations == 0 and r.steps["step2"].iterations == 4 - round(4 * coarse)
        assert r.labels.shape == truth.shape


def test_coarse_to_fine_takes_odd_sizes_and_many_texture_maps():
    img, truth = equal_mean_textures((31, 45))  # halves to 16x23: no exact 2x shrink of the 27+ feature maps
    hints = eroded_hints(truth.astype(np.uint8), [1, 0], size=5)
    s = seg_settings(step1_iters=2, step2_iters=2, hint_iters=1, sharpen_ramp=1, coarse=1.0, gabor=True,
                        progress=False)
    r = segment(img, hints, s, torch.device("cpu"))
    assert r.steps["step2_coarse"].best["mask"].shape[-2:] == (16, 24)  # 16x23, padded to a multiple of 8
    assert r.labels.shape == truth.shape


def _band(shape: tuple[int, int] = (300, 300), inner: int = 60, outer: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """A lasso trimap of a disc: sure foreground inside radius `inner`, sure background past `outer`."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r = np.hypot(yy - shape[0] / 2, xx - shape[1] / 2)
    return r <= inner, r >= outer


def test_band_prior_runs_from_the_foreground_hint_to_the_background_hint_and_fades_in_wide_gaps():
    from classical.hints import band_prior
    fg, bg = _band()
    to_fg, weight = band_prior(fg, bg)
    assert to_fg[150, 150 + 62] < 0.1 and to_fg[150, 150 + 88] > 0.9  # beside each hint
    assert abs(to_fg[150, 150 + 75] - 0.5) < 0.05  # its middle
    assert weight[150, 150 + 75] == 1.0  # a band 30 px wide in a 300 px image: narrow
    far_fg, far_bg = np.zeros((200, 200), bool), np.zeros((200, 200), bool)
    far_fg[100, 10:20], far_bg[100, 180:190] = True, True  # two short strokes 160 px apart
    assert band_prior(far_fg, far_bg)[1][100, 100] == 0.0  # the middle between far strokes says nothing
    assert not band_prior(np.zeros_like(fg), bg)[1].any()  # no sure foreground (a box): no prior


def test_the_cut_finds_a_faint_edge_wherever_it_runs_in_the_band_and_invents_none_on_a_flat_image():
    """A lasso band from radius 60 to 90. A disc with a faint edge at radius 66 (off-centre) or 75 (the middle):
    the cut puts the edge there, the band prior following the photo. A flat image shows no edge: the prior
    does not drag the labels out to the band's middle, the cut keeps to the sure foreground."""
    from net.segment import cut_labels
    fg, bg = _band()
    yy, xx = np.mgrid[0:300, 0:300]
    r = np.hypot(yy - 150, xx - 150)
    layers = np.full((2,) + fg.shape + (3,), 128, np.uint8)
    soft = np.full(fg.shape, 0.5, np.float32)
    hints = [fg.astype(np.float32), bg.astype(np.float32)]
    for edge in (66, 75):
        img = np.where((r <= edge)[..., None], 0.55, 0.45).astype(np.float32) * np.ones(3, np.float32)
        labels = cut_labels(img, hints, hints, soft, layers, seg_settings(cut_band=30.0))
        assert abs(np.sqrt(labels.sum() / np.pi) - edge) <= 2
    flat = np.full(fg.shape + (3,), 0.5, np.float32)
    labels = cut_labels(flat, hints, hints, soft, layers, seg_settings(cut_band=30.0))
    assert np.sqrt(labels.sum() / np.pi) < 63  # on the foreground hint (radius 60), not the middle (75)


def test_automatic_hints_mixing_two_objects_colours_leave_the_split_to_the_mask():
    """A grey-level hint rule marks a monster's light tail and the grass alike. With nothing fixed (automatic
    hints) the cut learns its colours from the mask's labels, so the tail stays with the body where the mask
    holds it; with the same hints sure, their colours take the tail's unhinted pixels to the grass."""
    from net.segment import cut_labels
    h, w = 40, 60
    img = np.empty((h, w, 3), np.float32)
    img[:, : w // 2] = (0.25, 0.1, 0.1)  # the body: dark red
    img[: h // 2, : w // 2] = (0.6, 0.4, 0.35)  # the tail: light brown
    img[:, w // 2:] = (0.2, 0.6, 0.2)  # the grass: green
    sparse = np.zeros((h, w), bool)
    sparse[::4, ::4] = True  # a hint rule's scattered pixels
    first = (sparse & ((np.arange(w) >= w // 2)[None] | (np.arange(h) < h // 2)[:, None])).astype(np.float32)
    second = (sparse & (np.arange(w) < w // 2)[None] & (np.arange(h) >= h // 2)[:, None]).astype(np.float32)
    soft = np.where(np.arange(w) < w // 2, 0.3, 0.7)[None].repeat(h, 0).astype(np.float32)  # mask: left = second
    layers = np.full((2, h, w, 3), 128, np.uint8)  # layers that explain every pixel alike
    s = seg_settings(mask_input="noise")  # the soft mask as given (no texture classifier to evaluate)
    tail = np.zeros((h, w), bool)
    tail[: h // 2, : w // 2] = True
    tail &= ~sparse
    automatic = cut_labels(img, [first, second], [0 * first, 0 * second], soft, layers, s)
    assert not automatic[tail].any()  # the tail is the body's (second layer), as the mask says
    assert automatic[:, w // 2:].all()  # the grass the first layer
    sure = cut_labels(img, [first, second], [first, second], soft, layers, s)
    assert sure[tail].mean() > 0.9  # sure hints: their colours win
