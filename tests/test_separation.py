"""separation.py: transparency (one or two mixtures) and watermark removal, on small synthetic images."""
import cv2
import numpy as np
import pytest
from helpers import PINNED, results, run_cli, run_script

from net.separate import sparse_weights, unmark, unmix
from utils.image_io import load_image, save_image
from utils.metrics import psnr
from utils.synthetic import box_around, mixtures, photo, watermark_mask, watermarked
from utils.watermark import inpaint_hint, mark_support

SHAPE = (64, 96)
TINY = ["--channels=[8,16]", "--skips=[0,4]", "--input_depth=4", "--progress=false"]


def test_unmix_recovers_both_layers_exactly_from_two_mixtures_with_known_weights():
    rng = np.random.default_rng(0)
    a, b = rng.random((8, 9, 3), np.float32), rng.random((8, 9, 3), np.float32)
    la, lb = unmix(mixtures(a, b, (0.7, 0.2)), [0.7, 0.2])
    assert np.abs(la - a).max() < 1e-5 and np.abs(lb - b).max() < 1e-5


@pytest.mark.parametrize("weights", [(0.75, 0.45), (0.55, 0.2)])
def test_gradient_sparsity_finds_the_mixing_weights_of_two_photo_mixtures(weights):
    a, b = photo("coffee", SHAPE), photo("astronaut", SHAPE)
    found = sparse_weights(mixtures(a, b, weights))
    assert np.allclose(found, weights, atol=0.02), found


def test_two_mixtures_split_into_the_true_layers_far_above_the_mixtures(tmp_path):
    a, b = photo("coffee", SHAPE), photo("astronaut", SHAPE)
    paths = [str(save_image(tmp_path / f"mix{k}.png", m)) for k, m in enumerate(mixtures(a, b, (0.75, 0.45)), 1)]
    gts = [str(save_image(tmp_path / f"layer{k}.png", t)) for k, t in enumerate((a, b), 1)]
    run = run_script("separation", [f"--input={','.join(paths)}", f"--gt={','.join(gts)}",
                                    f"--output_dir={tmp_path}", "--progress=false"])
    r = results(run)
    assert r["iterations"] == 0 and np.allclose(r["weights"], [0.75, 0.45], atol=0.02)
    for k in (1, 2):
        s = r["scores"][f"layer{k}"]
        assert s["psnr_gt"] > s["mixture_psnr_gt"] + 15, s
    assert {"layer1.png", "layer2.png", "figure.png", "results.json"} <= {p.name for p in run.iterdir()}


def test_one_mixture_runs_the_layer_dips_and_repeats_exactly_with_a_seed(tmp_path):
    a, b = photo("coffee", SHAPE), photo("astronaut", SHAPE)
    path = str(save_image(tmp_path / "mix.png", mixtures(a, b, (0.6,))[0]))
    args = [f"--input={path}", "--gt=", "--iters=4", f"--output_dir={tmp_path}", *PINNED, *TINY]
    runs = [run_script("separation", args) for _ in range(2)]
    r = results(runs[0])
    assert r["iterations"] == 4 and r["method"] == "two layer DIPs" and 0 < r["weights"][0] < 1
    for k in (1, 2):
        first, second = (load_image(run / f"layer{k}.png") for run in runs)
        assert first.shape == SHAPE + (3,) and np.array_equal(first, second)


def test_watermark_run_keeps_every_pixel_outside_the_hint_and_writes_mark_and_opacity(tmp_path):
    coverage = watermark_mask(SHAPE)
    hint = box_around(coverage)
    hint_path = str(save_image(tmp_path / "hint.png", hint))
    paths, cleans = [], []
    for name in ("chelsea", "coffee"):
        clean = photo(name, SHAPE)
        cleans.append(str(save_image(tmp_path / f"{name}_truth.png", clean)))
        paths.append(str(save_image(tmp_path / f"{name}.png", watermarked(clean, coverage, 0.5))))
    run = run_script("separation", ["--task=watermark", f"--input={','.join(paths)}", f"--hint={hint_path}",
                                    f"--gt={','.join(cleans)}", "--iters=6", "--inpaint_iters=3",
                                    f"--output_dir={tmp_path}", *TINY])
    r = results(run)
    assert r["iterations"] == 6 and len(r["scores"]) == 2 and r["hint_fraction"] == pytest.approx(hint.mean())
    for p in paths:
        name = p.split("/")[-1][:-4]
        out, inp = load_image(run / f"{name}_clean.png"), load_image(p)
        assert np.array_equal(out[hint == 0], inp[hint == 0])
    assert load_image(run / "opacity.png").shape == SHAPE + (3,) and (run / "mark.png").exists()
    support = load_image(run / "support.png")[:, :, 0]
    assert not support[hint == 0].any() and 0 < r["support_fraction"] < r["hint_fraction"]


@pytest.mark.parametrize("colour", [(1, 1, 1), (0, 0, 0), (0.9, 0.2, 0.1)])
def test_mark_support_covers_the_marks_strokes_and_little_else_of_the_box_whatever_their_colour(colour):
    shape = (192, 256)
    coverage = watermark_mask(shape)
    box = box_around(coverage)
    strokes = coverage > 0.05
    rims = cv2.dilate(strokes.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # the strokes grown by a pixel
    marked = [watermarked(photo(n, shape), coverage, 0.5, colour) for n in ("chelsea", "coffee", "astronaut")]
    for images in (marked[:1], marked):
        support = mark_support(images, box) > 0
        assert not support[box == 0].any()
        assert (support & strokes).sum() > 0.9 * strokes.sum()  # the mark is inside: nothing of it is left
        assert support.sum() < 0.75 * box.sum()  # the strokes with their rims are 54% of this box
        assert (support & rims).sum() / (support | rims).sum() > 0.6


def test_mark_support_keeps_the_whole_hint_when_there_is_nothing_to_inpaint_from_or_nothing_found():
    shape = (48, 64)
    image = photo("chelsea", shape)
    everywhere = np.ones(shape, np.float32)
    assert np.array_equal(mark_support([image], everywhere), everywhere)
    flat = np.full(shape + (3,), 0.4, np.float32)
    box = np.zeros(shape, np.float32)
    box[10:30, 10:40] = 1
    assert np.array_equal(mark_support([flat], box), box)
    assert np.allclose(inpaint_hint(flat, box), 0.4, atol=4 / 255)  # Telea rounds a little


def test_unmark_takes_a_known_mark_out_exactly_where_the_photo_shows_through():
    rng = np.random.default_rng(1)
    clean = rng.random((10, 12, 3), np.float32)
    opacity = np.zeros((10, 12), np.float32)
    opacity[3:7, 2:9] = 0.5
    hint = (opacity > 0).astype(np.float32)
    white = np.ones((10, 12, 3), np.float32)
    marked = watermarked(clean, opacity / 0.5, 0.5)
    out = unmark(marked, np.zeros_like(clean), hint, opacity, white, most=0.9)
    assert psnr(out, clean) > 60
    net_only = unmark(marked, np.zeros_like(clean), hint, opacity, white, most=0.0)
    assert not net_only[hint > 0].any() and np.array_equal(net_only[hint == 0], marked[hint == 0])


@pytest.mark.parametrize("args, message", [
    (["--input=images/glass1.png,images/glass2.png,images/glass1.png"], "one mixture or two"),
    (["--task=watermark", "--input=images/glass1.png", "--hint="], "needs a hint"),
    (["--task=watermark", "--iters=5", "--inpaint_iters=5"], "must exceed"),
    (["--task=sculpture"], "--task"),
    (["--input=images/glass1.png", "--iters=0"], "--iters=0 only works"),
])
def test_bad_separation_settings_are_one_line_and_exit_2(tmp_path, args, message):
    code, out, err = run_cli("separation", [*args, f"--output_dir={tmp_path}"])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


def test_an_all_black_hint_is_refused_before_any_run_folder(tmp_path):
    hint = str(save_image(tmp_path / "black.png", np.zeros((192, 256), np.float32)))
    out_dir = tmp_path / "out"
    code, _, err = run_cli("separation", ["--task=watermark", f"--hint={hint}", f"--output_dir={out_dir}"])
    assert code == 2 and "all black" in err and not out_dir.exists()


def test_weight_maps_keep_each_mixtures_true_weight_on_average_and_are_written(tmp_path):
    """The bundled mixtures hold 0.75 and 0.45 of the coffee at every pixel: each learned map's mean stays at its
    weight (a constant 0.5, or maps drifting off as the layers absorb them, would not). Where the truth is
    constant the maps still vary by 0.1-0.2 across the photo (docs/findings.md): that is not pinned here."""
    run = run_script("separation", ["--mix=map", "--iters=40", "--gt=", "--max_side=96", f"--output_dir={tmp_path}",
                                    *TINY])
    r = results(run)
    assert r["iterations"] == 40 and len(r["weights_mean"]) == 2
    for k, truth in ((1, 0.75), (2, 0.45)):
        alpha = load_image(run / f"weight{k}.png")
        assert alpha.shape == (192, 256, 3)
        assert abs(alpha.mean() - truth) < 0.04 and abs(r["weights_mean"][k - 1] - truth) < 0.04, (k, alpha.mean())


def test_a_flat_layer_is_reported_as_a_collapsed_separation():
    from separation import flat_layer
    textured = photo("astronaut", SHAPE)
    flat = np.full(SHAPE + (3,), 0.5, np.float32)
    ratio, which = flat_layer([flat + 0.001 * textured, textured], 0.1)
    assert ratio < 0.01 and which == 1
    ratio, which = flat_layer([textured, photo("coffee", SHAPE)], 0.1)
    assert ratio > 0.3 and which is None
