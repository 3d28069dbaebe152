"""A box as the hint (GrabCut's way): outside is background, the inside teaches the foreground."""
import numpy as np
import pytest
from helpers import results, run_cli, run_script

from classical.hints import box_hints, parse_box
from utils.errors import UserError
from utils.image_io import load_image
from utils.metrics import iou

FAST = ["--step1_iters=15", "--step2_iters=0", "--progress=false", "--box_rounds=2"]


def test_box_in_pixels_or_fractions_gives_the_same_bounds():
    assert parse_box("10,5,40,30", (40, 56)) == (10, 5, 40, 30)
    assert parse_box("0.25,0.25,0.75,0.5", (40, 56)) == (14, 10, 42, 20)
    assert parse_box("40, 30, 10, 5", (40, 56)) == (10, 5, 40, 30)  # corners in any order
    assert parse_box("-5,-5,500,500", (40, 56)) == (0, 0, 56, 40)  # clipped to the image


@pytest.mark.parametrize("text", ["60,50,80,70", "10,10,10,30", "1,2,3", "a,b,c,d"])
def test_box_outside_the_image_of_zero_area_or_malformed_is_a_clear_error(text):
    with pytest.raises(UserError, match="--box"):
        parse_box(text, (40, 56))


def test_box_fixes_its_outside_as_background_and_leaves_its_inside_open():
    learn_fg, learn_bg, sure_bg = box_hints((40, 56), (10, 5, 40, 30))
    assert learn_fg[5:30, 10:40].all() and not learn_fg[:5].any()
    assert (sure_bg == learn_bg).all() and sure_bg[:5].all() and not sure_bg[5:30, 10:40].any()


def test_box_covering_the_whole_image_still_teaches_a_background_but_fixes_nothing():
    learn_fg, learn_bg, sure_bg = box_hints((40, 56), (0, 0, 56, 40))
    assert learn_bg[0].all() and not learn_bg[20, 28] and learn_fg[20, 28] and not sure_bg.any()


def test_box_run_keeps_the_outside_background_and_records_the_box(tiny_files, tmp_path):
    run = run_script("segmentation", [f"--input={tiny_files / 'img.png'}", "--box=8,6,48,34", "--truth=",
                                      f"--output_dir={tmp_path}", *FAST])
    mask = load_image(run / "mask.png")[:, :, 0] > 0.5
    assert mask.shape == (40, 56) and not mask[:6].any() and not mask[:, :8].any() and mask[6:34, 8:48].any()
    assert results(run)["box"] == [8, 6, 48, 34]


def test_box_over_the_whole_image_still_finds_the_object(tiny_files, tmp_path):
    """No background outside the box: its outer 2% teach the background, and the textured square in the middle
    is found (an all-background or all-foreground mask would not be)."""
    run = run_script("segmentation", [f"--input={tiny_files / 'img.png'}", "--box=0,0,1,1", "--truth=",
                                      f"--output_dir={tmp_path}", *FAST])
    mask = load_image(run / "mask.png")[:, :, 0] > 0.5
    assert iou(mask, load_image(tiny_files / "truth.png")[:, :, 0] > 0.5) > 0.8


def test_box_beside_the_input_is_used_with_automatic_hints(tiny_files, tmp_path):
    import shutil
    shutil.copy(tiny_files / "img.png", tmp_path / "photo.png")
    (tmp_path / "photo_box.txt").write_text("8,6,48,34\n")
    run = run_script("segmentation", [f"--input={tmp_path / 'photo.png'}", f"--output_dir={tmp_path / 'o'}", *FAST])
    assert results(run)["box"] == [8, 6, 48, 34]


@pytest.mark.parametrize("box", ["100,100,200,200", "5,5,5,20", "1,2,3"])
def test_bad_box_is_one_line_and_exit_2(box, tiny_files, tmp_path):
    code, _, err = run_cli("segmentation", [f"--input={tiny_files / 'img.png'}", f"--box={box}",
                                            f"--output_dir={tmp_path}", *FAST])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --box") and "Traceback" not in err
    assert not any(tmp_path.glob("*/*"))


def test_scribbles_a_few_pixels_wide_work_as_hints_as_they_do_with_nets_off(tiny_files, tmp_path):
    from utils.image_io import save_image
    truth = load_image(tiny_files / "truth.png")[:, :, 0] > 0.5
    fg, bg = np.zeros(truth.shape, np.float32), np.zeros(truth.shape, np.float32)
    ys, xs = np.nonzero(truth)
    fg[int(ys.mean()) - 1:int(ys.mean()) + 1, xs.min() + 4:xs.max() - 4] = 1  # one horizontal stroke, 2 px
    bg[1:3, :] = 1
    bg[-3:-1, :] = 1
    fg *= truth
    bg *= ~truth
    save_image(tmp_path / "fg.png", fg)
    save_image(tmp_path / "bg.png", bg)
    assert (fg + bg).mean() < 0.2
    run = run_script("segmentation", [f"--input={tiny_files / 'img.png'}", f"--fg_hint={tmp_path / 'fg.png'}",
                                      f"--bg_hint={tmp_path / 'bg.png'}", f"--truth={tiny_files / 'truth.png'}",
                                      f"--output_dir={tmp_path / 'o'}", "--step1_iters=60", "--step2_iters=0",
                                      "--progress=false"])
    mask = load_image(run / "mask.png")[:, :, 0] > 0.5
    assert mask[fg > 0].all() and not mask[bg > 0].any()  # strokes are kept
    assert results(run)["iou_fg"] > 0.6


def test_every_box_that_fits_the_image_gives_labels_touching_edges_thin_or_around_a_tiny_object():
    """The box path (GrabCut started 7 ways, then our cut where it cannot run) on boxes at every edge, thin
    ones and ones around an object of a few pixels: a labelling each time, with nothing outside the box; a box
    around one object labels it (the tall one: it alone), a box holding both labels one of them."""
    import segmentation
    from net.segment import SegmentSettings, segment
    from utils.config import defaults, settings_from
    rng = np.random.default_rng(0)
    h, w = 48, 72
    image = np.clip(0.3 + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)
    image[20:23, 30:33] = (0.9, 0.2, 0.1)  # a tiny object
    image[5:40, 50:60] = (0.2, 0.6, 0.9)  # a tall one at the right
    objects = {"tiny": (30, 20, 33, 23), "tall": (50, 5, 60, 40)}  # x0, y0, x1, y1
    s = settings_from(SegmentSettings, defaults(vars(segmentation), dip=False, progress=False),
                      cut_rounds=10, cut_starts=7)
    boxes = [(0, 0, 40, 30), (30, 0, 72, 48), (0, 20, 72, 48), (28, 18, 35, 25), (29, 19, 34, 24), (49, 0, 61, 48),
             (0, 0, 72, 2), (70, 0, 72, 48), (0, 0, 72, 48), (10, 10, 11, 40), (31, 21, 32, 22)]
    for box in boxes:
        learn_fg, learn_bg, sure_bg = box_hints((h, w), box)
        seg = segment(image, [learn_fg, learn_bg], s, None, [np.zeros((h, w), np.float32), sure_bg])
        fg = seg.labels == 0
        assert fg.shape == (h, w) and not fg[sure_bg > 0].any(), box
        x0, y0, x1, y1 = box
        holds = {name: x0 <= a and y0 <= b and c <= x1 and d <= y1 for name, (a, b, c, d) in objects.items()}
        labelled = {name: fg[b:d, a:c].mean() > 0.9 for name, (a, b, c, d) in objects.items()}
        if holds["tiny"] and holds["tall"]:
            assert labelled["tiny"] or labelled["tall"], box
        elif holds["tiny"]:
            assert labelled["tiny"], box
        elif holds["tall"]:
            assert labelled["tall"] and fg[y0:y1, x0:x1].mean() < 0.7, box  # (the object: 61% of its box)
