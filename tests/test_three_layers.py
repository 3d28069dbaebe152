import numpy as np
import pytest
from helpers import results, run_script

from net.segment import fuse_paper, fuse_vote
from utils.image_io import load_image, save_image
from utils.metrics import iou
from utils.synthetic import eroded_hints, three_texture, two_texture

# labels: 2 = fg, 1 = mg, 0 = bg; masks[(a, b)] -> 1 means a, 0 means b
#          A: fg wins   B: mg wins   C: bg wins   D: three-way tie (fg>bg, bg>mg, mg>fg)
FG_BG = np.array([0.9, 0.1, 0.2, 0.9])
MG_BG = np.array([0.2, 0.7, 0.1, 0.45])
FG_MG = np.array([0.8, 0.3, 0.6, 0.4])
MASKS = {(2, 0): FG_BG, (1, 0): MG_BG, (2, 1): FG_MG}


def test_vote_fusion_takes_the_label_with_two_votes():
    assert fuse_vote(MASKS)[:3].tolist() == [2, 1, 0]


def test_vote_fusion_breaks_a_three_way_tie_by_summed_confidence():
    # D: fg 0.9 + 0.4 = 1.3, bg 0.1 + 0.55 = 0.65, mg 0.45 + 0.6 = 1.05
    assert fuse_vote(MASKS)[3] == 2
    flipped = {k: v.copy() for k, v in MASKS.items()}
    flipped[(2, 0)][3] = 0.55  # fg 0.95, bg 1.0, mg 1.05: now the middle-ground is most confident
    assert fuse_vote(flipped)[3] == 1


def test_paper_fusion_turns_every_disagreement_into_middle_ground():
    assert fuse_paper(MASKS).tolist() == [2, 1, 0, 1]


def write_case(d, img, labels, values, names, size=7):
    save_image(d / "img.png", img)
    for name, hint in zip(names, eroded_hints(labels, values, size=size), strict=True):
        save_image(d / f"{name}.png", hint)
    save_image(d / "truth.png", labels.astype(np.float32) / labels.max())


FAST = ["--step1_iters=80", "--step2_iters=150", "--hint_iters=80", "--sharpen_ramp=80", "--progress=false"]


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    d = tmp_path_factory.mktemp("three")
    img, labels = three_texture((48, 72))
    write_case(d, img, labels, [2, 1, 0], ["fg", "mg", "bg"], size=5)
    return d


@pytest.mark.parametrize("method", ["system", "multi"])
def test_three_layer_techniques_beat_the_hints_alone_as_nets_off_does(three, tmp_path, method):
    run = run_script("segmentation", [f"--input={three / 'img.png'}", "--layers=3", f"--method={method}",
                                      f"--fg_hint={three / 'fg.png'}", f"--mg_hint={three / 'mg.png'}",
                                      f"--bg_hint={three / 'bg.png'}", f"--truth={three / 'truth.png'}",
                                      f"--output_dir={tmp_path}", *FAST])
    for name in ("labels", "labels_vis", "overlay", "figure", "fg_layer", "mg_layer", "bg_layer"):
        assert (run / f"{name}.png").is_file(), name
    labels = np.rint(load_image(run / "labels.png")[:, :, 0] * 255).astype(int)
    assert labels.shape == (48, 72) and set(np.unique(labels)) <= {0, 1, 2}
    vis = load_image(run / "labels_vis.png")[:, :, 0]
    assert np.allclose(vis[labels == 2], 0) and np.allclose(vis[labels == 0], 1)  # fg black, bg white
    r = results(run)
    assert r["mean_iou"] > r["mean_iou_hint_only"] + 0.05
    if method == "system":
        for pair in ("pair_fg_bg", "pair_mg_bg", "pair_fg_mg"):
            assert (run / pair / "mask.png").is_file()


def test_two_layer_multi_agrees_with_double_dip_on_a_sample_nets_off_also_solves(tmp_path):
    img, truth = two_texture((61, 93))
    labels = truth.astype(np.uint8)
    write_case(tmp_path, img, labels, [1, 0], ["fg", "bg"], size=9)
    common = [f"--input={tmp_path / 'img.png'}", f"--fg_hint={tmp_path / 'fg.png'}",
              f"--bg_hint={tmp_path / 'bg.png'}", f"--output_dir={tmp_path / 'out'}", *FAST]
    a = run_script("segmentation", [*common, "--method=system"])
    b = run_script("segmentation", [*common, "--method=multi"])
    ma, mb = (load_image(r / "mask.png")[:, :, 0] > 0.5 for r in (a, b))
    assert iou(ma, mb) > 0.85  # the softmax model with N = 2 behaves like Double-DIP
    hint_only = iou(load_image(tmp_path / "fg.png")[:, :, 0] > 0.5, truth)
    assert iou(mb, truth) > hint_only + 0.05
