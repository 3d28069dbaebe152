"""The min cut labels exactly: it follows image edges between fixed seeds, and without the boundary term
it is each pixel's cheaper label."""
import numpy as np

from utils.graphcut import binary_cut


def two_regions(h: int = 30, w: int = 40, edge: int = 23, seed: int = 0) -> np.ndarray:
    """A dark left part and a bright right part (edge at column `edge`), with a little noise."""
    rng = np.random.default_rng(seed)
    img = np.where(np.arange(w)[None, :, None] < edge, 0.2, 0.8) * np.ones((h, w, 3))
    return np.clip(img + 0.02 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def test_the_cut_follows_the_colour_edge_between_the_seeds():
    img = two_regions()
    fg, bg = np.zeros((30, 40), bool), np.zeros((30, 40), bool)
    fg[:, :3], bg[:, -3:] = True, True  # a strip of each at the far sides
    flat = np.full((30, 40), 0.5, np.float32)  # no pixel prefers either label
    labels = binary_cut(img, flat, flat, fg, bg, smooth=10.0)
    assert labels[:, :23].all() and not labels[:, 23:].any()


def test_without_a_boundary_term_each_pixel_takes_its_cheaper_label():
    rng = np.random.default_rng(1)
    img = rng.random((12, 17, 3)).astype(np.float32)
    fg_cost, bg_cost = rng.random((12, 17)).astype(np.float32), rng.random((12, 17)).astype(np.float32)
    none = np.zeros((12, 17), bool)
    labels = binary_cut(img, fg_cost, bg_cost, none, none, smooth=0.0)
    assert np.array_equal(labels, fg_cost < bg_cost)


def test_fixed_pixels_keep_their_labels_against_any_cost():
    img = two_regions()
    fg, bg = np.zeros((30, 40), bool), np.zeros((30, 40), bool)
    fg[10:20, 30:35] = True  # a sure foreground patch inside the bright region
    bg[:, :5] = True
    cheap_bg = np.zeros((30, 40), np.float32)
    labels = binary_cut(img, cheap_bg + 5.0, cheap_bg, fg, bg, smooth=1.0)
    assert labels[fg].all() and not labels[bg].any()


def test_grabcut_splits_a_box_and_declines_without_background():
    from utils.graphcut import grabcut
    img = np.full((40, 60, 3), 0.2, np.float32)
    img[10:30, 20:40] = (0.9, 0.3, 0.2)  # a red square on grey
    outside = np.ones((40, 60), bool)
    outside[5:35, 15:45] = False  # a box around the square
    fg = grabcut(img, np.zeros_like(outside), outside)
    assert fg is not None and fg[12:28, 22:38].all() and not fg[outside].any() and not fg[6:9, 16:19].any()
    assert grabcut(img, np.zeros_like(outside), np.zeros_like(outside)) is None  # a box over the whole image
