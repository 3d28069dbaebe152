import numpy as np
import pytest

from classical.hints import histogram_hints, make_hints, saliency_hints, validate_hints
from utils.errors import UserError
from utils.image_io import save_image


def gradient_image(h=64, w=64):
    ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :].repeat(h, 0)
    return np.dstack([ramp] * 3)


def test_histogram_hints_mark_the_brightest_as_foreground_and_darkest_as_background():
    hints = histogram_hints(gradient_image(), layers=3)
    cols_fg = np.where(hints["fg"].any(0))[0]
    cols_bg = np.where(hints["bg"].any(0))[0]
    cols_mg = np.where(hints["mg"].any(0))[0]
    assert cols_fg.min() > 55 and cols_bg.max() < 8
    assert cols_bg.max() < cols_mg.min() and cols_mg.max() < cols_fg.min()
    assert not (hints["fg"] * hints["bg"]).any()


@pytest.mark.parametrize("shape, blob", [((96, 96), (40, 56, 40, 56)), ((300, 400), (100, 180, 150, 260))])
def test_saliency_hints_put_a_salient_blob_in_the_foreground_and_none_of_it_in_the_background(shape, blob):
    """A small red square and a larger blue block on grey: the blob is (mostly) the foreground hint, no pixel
    of it the background hint, and the far corners are background."""
    img = np.full(shape + (3,), 0.5, np.float32)
    y0, y1, x0, x1 = blob
    img[y0:y1, x0:x1] = [1.0, 0.1, 0.1] if shape[0] < 100 else [0.2, 0.3, 0.9]
    hints = saliency_hints(img)
    inside = np.zeros(shape, bool)
    inside[y0:y1, x0:x1] = True
    assert not hints["bg"][inside].any()
    assert hints["fg"][inside].mean() > 0.5 and hints["fg"][inside].sum() > 0.5 * hints["fg"].sum()
    assert hints["bg"][:5, :5].all() and hints["bg"][-5:, -5:].all()


def test_user_masks_replace_automatic_hints_and_win_overlaps(tmp_path):
    img = gradient_image()
    fg = np.zeros((32, 32), np.float32)
    fg[:, :1] = 1  # the two darkest columns: overlaps the automatic background hint
    save_image(tmp_path / "fg.png", fg)
    auto_bg = make_hints(img, "histogram", 2)["bg"]
    hints = make_hints(img, "histogram", 2, {"fg": str(tmp_path / "fg.png")})
    assert hints["fg"][:, :2].all() and not hints["fg"][:, 2:].any()
    assert not (hints["fg"] * hints["bg"]).any()
    assert hints["bg"].sum() == auto_bg.sum() - auto_bg[:, :2].sum()


def test_empty_hint_is_a_clear_error(tmp_path):
    save_image(tmp_path / "empty.png", np.zeros((8, 8), np.float32))
    with pytest.raises(UserError, match="fg hint is empty"):
        make_hints(gradient_image(), "histogram", 2, {"fg": str(tmp_path / "empty.png")})


def test_overlapping_user_hints_are_a_clear_error():
    a = np.zeros((8, 8), np.float32)
    a[2:5, 2:5] = 1
    with pytest.raises(UserError, match="overlap on 9 pixels"):
        validate_hints({"fg": a, "bg": a.copy()})


def test_four_layer_histogram_hints_are_ordered_bands():
    hints = histogram_hints(gradient_image(), layers=4)
    assert list(hints) == ["fg", "mg1", "mg2", "bg"]
    centres = [np.nonzero(hints[k].any(0))[0].mean() for k in hints]
    assert centres == sorted(centres, reverse=True)  # fg brightest ... bg darkest
    validate_hints(hints)
