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


def _random_problem(rng: np.random.Generator, h: int, w: int, fixed_share: float):
    """Random costs (some negative: a colour density above 1), an image for the 8-neighbour boundary weights,
    and some pixels fixed to each label."""
    image = rng.random((h, w, 3)).astype(np.float32)
    fg_cost, bg_cost = rng.normal(0.0, 1.0, (h, w)), rng.normal(0.0, 1.0, (h, w))
    fixed = rng.random((h, w)) < fixed_share
    fixed_fg = fixed & (rng.random((h, w)) < 0.5)
    return image, fg_cost, bg_cost, fixed_fg, fixed & ~fixed_fg, float(rng.uniform(0.2, 2.0))


def _energy(image, fg_cost, bg_cost, labels, smooth) -> float:
    from classical.graphcut import boundary_weights, potts_energy
    return potts_energy(np.stack([bg_cost, fg_cost], 2), labels.astype(np.uint8), smooth, boundary_weights(image))


def test_the_cut_reaches_the_brute_force_minimum_on_tiny_grids_with_fixed_pixels():
    """Every labelling of a 3x4 grid (8-neighbour weights, random costs, fixed pixels held) enumerated: the
    cut's energy is the least of them."""
    import itertools
    rng = np.random.default_rng(7)
    for _ in range(12):
        image, fg_cost, bg_cost, fixed_fg, fixed_bg, smooth = _random_problem(rng, 3, 4, 0.25)
        labels = binary_cut(image, fg_cost, bg_cost, fixed_fg, fixed_bg, smooth)
        assert labels[fixed_fg].all() and not labels[fixed_bg].any()
        free = np.flatnonzero(~(fixed_fg | fixed_bg))
        best = np.inf
        for bits in itertools.product((False, True), repeat=len(free)):
            trial = fixed_fg.copy().ravel()
            trial[free] = bits
            best = min(best, _energy(image, fg_cost, bg_cost, trial.reshape(3, 4), smooth))
        assert abs(_energy(image, fg_cost, bg_cost, labels, smooth) - best) < 1e-9


def test_the_cut_matches_scipys_maximum_flow_on_small_random_grids():
    """Against the old path (scipy's Dinic on integer capacities in thousandths, benchmarks/cut.py's
    baseline): the same minimum, up to that path's rounding, and never above it."""
    import sys

    from helpers import ROOT
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from cut import DINIC_SCALE, cut_energy, dinic_min_cut

    from classical.graphcut import boundary_weights, cut_graph
    rng = np.random.default_rng(11)
    for _ in range(6):
        image, fg_cost, bg_cost, fixed_fg, fixed_bg, smooth = _random_problem(rng, 24, 31, 0.1)
        g = cut_graph(fixed_fg, fixed_bg, smooth, boundary_weights(image)).with_costs(fg_cost, bg_cost)
        ours = binary_cut(image, fg_cost, bg_cost, fixed_fg, fixed_bg, smooth)[g.free]
        reference = dinic_min_cut(g)
        rounding = (len(g.i) + len(g.to_sink)) * 0.5 / DINIC_SCALE
        assert cut_energy(g, ours) <= cut_energy(g, reference) + 1e-9
        assert cut_energy(g, reference) - cut_energy(g, ours) <= rounding
        # and the graph is the energy: the same labelling costs the same in both
        full = fixed_fg.copy()
        full[g.free] = ours
        left_out = np.minimum(fg_cost, bg_cost)[g.free].sum() + _fixed_part(image, fg_cost, bg_cost, fixed_fg,
                                                                            fixed_bg, smooth)
        assert np.isclose(_energy(image, fg_cost, bg_cost, full, smooth), cut_energy(g, ours) + left_out,
                          rtol=0, atol=1e-4)  # (the boundary weights are float32)


def _fixed_part(image, fg_cost, bg_cost, fixed_fg, fixed_bg, smooth) -> float:
    """What the graph leaves out of the energy: the fixed pixels' own costs and the boundary between fixed
    neighbours of different labels."""
    from classical.graphcut import _pairs, boundary_weights
    fixed = fixed_fg | fixed_bg
    unary = float(fg_cost[fixed_fg].sum() + bg_cost[fixed_bg].sum())
    pair = 0.0
    for dy, dx, weight in boundary_weights(image):
        a, b = _pairs(fixed.shape, dy, dx)
        apart = fixed[a] & fixed[b] & (fixed_fg[a] != fixed_fg[b])
        pair += float(weight[apart].sum())
    return unary + smooth * pair


def test_a_cut_solved_again_with_new_costs_equals_a_fresh_cut():
    """BinaryCut's later solves start from the flow of the one before (dynamic graph cuts): with costs raised,
    lowered and swapped, each result has the energy of a cut made afresh."""
    from classical.graphcut import BinaryCut
    rng = np.random.default_rng(5)
    image, fg_cost, bg_cost, fixed_fg, fixed_bg, smooth = _random_problem(rng, 20, 26, 0.1)
    cut = BinaryCut(image, fixed_fg, fixed_bg, smooth)
    for _ in range(4):
        again = cut(fg_cost, bg_cost)
        fresh = binary_cut(image, fg_cost, bg_cost, fixed_fg, fixed_bg, smooth)
        assert abs(_energy(image, fg_cost, bg_cost, again, smooth)
                   - _energy(image, fg_cost, bg_cost, fresh, smooth)) < 1e-6
        assert again[fixed_fg].all() and not again[fixed_bg].any()
        band = rng.random(fg_cost.shape) < 0.3  # some pixels' costs change, others keep theirs
        fg_cost = np.where(band, fg_cost + rng.normal(0, 1.5, fg_cost.shape), fg_cost)
        bg_cost = np.where(band, bg_cost - rng.normal(0, 1.5, bg_cost.shape), bg_cost)


def test_free_pixels_without_a_free_neighbour_and_an_unchanged_second_solve_are_cut():
    """Every other pixel fixed (no edge between free pixels), and a solve with the same costs again: each free
    pixel takes the label its costs and its fixed neighbours make cheaper."""
    from classical.graphcut import BinaryCut
    img = two_regions(6, 6, 3)
    fixed_fg = np.zeros((6, 6), bool)
    fixed_fg[::2, ::2] = fixed_fg[1::2, 1::2] = True  # a chessboard of sure foreground
    none = np.zeros((6, 6), bool)
    cost = np.zeros((6, 6))
    cut = BinaryCut(img, fixed_fg, none, smooth=1.0)
    assert cut(cost + 0.1, cost).all() and cut(cost + 0.1, cost).all()  # cutting from the fixed ones costs more
    assert not cut(cost + 100.0, cost)[~fixed_fg].any()
