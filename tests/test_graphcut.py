"""The min cut labels exactly: it follows image edges between fixed seeds, and without the boundary term
it is each pixel's cheaper label."""
import numpy as np

from classical.graphcut import binary_cut


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
    from classical.graphcut import grabcut
    img = np.full((40, 60, 3), 0.2, np.float32)
    img[10:30, 20:40] = (0.9, 0.3, 0.2)  # a red square on grey
    outside = np.ones((40, 60), bool)
    outside[5:35, 15:45] = False  # a box around the square
    fg = grabcut(img, np.zeros_like(outside), outside)
    assert fg is not None and fg[12:28, 22:38].all() and not fg[outside].any() and not fg[6:9, 16:19].any()
    assert grabcut(img, np.zeros_like(outside), np.zeros_like(outside)) is None  # a box over the whole image


def test_grabcut_restarts_find_the_object_where_the_box_holds_a_background_shade_the_outside_lacks():
    """A yellow object on orange, the box's inside a shade of orange the outside does not have (banana1 of
    the GrabCut benchmark, simplified): GrabCut's one start takes the whole inside; the lowest-energy of its
    framed starts finds the object."""
    from classical.graphcut import grabcut
    rng = np.random.default_rng(0)
    img = np.empty((60, 80, 3), np.float32)
    img[:] = (1.0, 0.6, 0.1)
    img[8:52, 8:72] = (0.95, 0.7, 0.2)
    img[20:40, 25:55] = (0.9, 0.85, 0.2)
    img = np.clip(img + rng.normal(0, 0.04, img.shape).astype(np.float32), 0, 1)
    truth = np.zeros((60, 80), bool)
    truth[20:40, 25:55] = True
    outside = np.ones((60, 80), bool)
    outside[6:54, 6:74] = False

    def iou(fg):
        return (fg & truth).sum() / (fg | truth).sum()
    assert iou(grabcut(img, np.zeros_like(outside), outside, 10)) < 0.3
    framed = grabcut(img, np.zeros_like(outside), outside, 10, starts=7)
    assert iou(framed) > 0.95 and not framed[outside].any()
    assert (framed == grabcut(img, np.zeros_like(outside), outside, 10, starts=7)).all()  # seeded: repeatable


def test_gmm_nll_is_the_mixture_density_of_opencv_models():
    from scipy.stats import multivariate_normal

    from classical.graphcut import gmm_nll
    means, covs = np.array([[10.0, 20, 30], [200, 100, 50]]), [np.diag([4.0, 9, 16]), np.eye(3) * 25 + 5]
    model = np.zeros((1, 65))
    model[0, :2] = (0.3, 0.7)
    model[0, 5:11] = means.ravel()
    model[0, 20:38] = np.concatenate([c.ravel() for c in covs])
    x = np.array([[12.0, 18, 33], [190, 104, 55], [100, 60, 40]])
    density = sum(w * multivariate_normal(m, c).pdf(x) for w, m, c in zip((0.3, 0.7), means, covs, strict=True))
    assert np.allclose(gmm_nll(x, model), -np.log(density))  # the 65 numbers read in OpenCV's order


def test_expansion_reaches_a_labelling_no_single_expansion_move_improves():
    """Alpha-expansion's guarantee, checked by brute force on a 3x3 grid with 3 labels: from its result,
    no set of pixels switching to any one label lowers the Potts energy (and it is within the factor 2 of
    the global minimum that guarantee implies for a Potts model)."""
    import itertools

    from classical.graphcut import boundary_weights, expansion_cut, potts_energy
    rng = np.random.default_rng(3)
    image = rng.random((3, 3, 3)).astype(np.float32)
    costs = rng.random((3, 3, 3)) * 2
    sure = np.full((3, 3), -1)
    sure[0, 0] = 2
    smooth = 0.8
    labels = expansion_cut(image, costs, sure, smooth)
    weights = boundary_weights(image)
    energy = potts_energy(costs, labels, smooth, weights)
    assert labels[0, 0] == 2
    free = [(y, x) for y in range(3) for x in range(3) if sure[y, x] < 0]
    for alpha in range(3):
        movable = [p for p in free if labels[p] != alpha]
        for k in range(1, len(movable) + 1):
            for subset in itertools.combinations(movable, k):
                moved = labels.copy()
                for p in subset:
                    moved[p] = alpha
                assert potts_energy(costs, moved, smooth, weights) >= energy - 1e-2
    best = min(potts_energy(costs, np.array(c).reshape(3, 3), smooth, weights)
               for c in itertools.product(range(3), repeat=9) if c[0] == 2)
    assert energy <= 2 * best + 1e-2


def test_expansion_splits_three_colour_regions_along_their_edges():
    from classical.graphcut import expansion_cut
    image = np.zeros((30, 45, 3), np.float32)
    image[:, 15:30], image[:, 30:] = 0.5, 1.0
    truth = np.repeat(np.arange(3), 15)[None].repeat(30, 0)
    rng = np.random.default_rng(0)
    costs = np.stack([np.abs(image[:, :, 0] - v) for v in (0.0, 0.5, 1.0)], 2) + rng.random((30, 45, 3)) * 1.5
    sure = np.full((30, 45), -1)
    noisy = np.argmin(costs, 2)
    assert (noisy != truth).mean() > 0.05  # the costs alone are speckled
    assert np.array_equal(expansion_cut(image, costs, sure, smooth=2.0), truth)


def test_a_colour_model_with_no_component_gives_no_likelihood_instead_of_a_crash():
    """GrabCut can leave a model with every component's weight 0 (a start that emptied its label): such a
    model explains no colour (minus infinity) and is never the lowest-energy start."""
    from classical.colour import colour_loglik, mixture_loglik
    out = mixture_loglik(np.zeros((4, 3)), [0.0, 0.0], [np.zeros(3)] * 2, [np.eye(3)] * 2)
    assert out.shape == (4,) and np.isneginf(out).all()
    one = np.zeros((5, 5), bool)
    one[2, 2] = True  # one pixel: nothing to learn from
    assert not colour_loglik(np.random.default_rng(0).random((5, 5, 3)), one).any()
