"""An exact binary labelling by a minimum cut: per-pixel costs of each label plus GrabCut's boundary term,
a cost for every pair of 8-connected neighbours with different labels that is high where their colours
are alike and low across an image edge (Boykov & Jolly 2001; Rother et al. 2004). The maximum flow is
Boykov and Kolmogorov's (PAMI 2004, PyMaxflow); only the pixels whose label is not fixed become nodes."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# the four forward neighbours of a pixel (with the other four by symmetry: 8-connectivity) and their distance
_OFFSETS = ((0, 1, 1.0), (1, 0, 1.0), (1, 1, 2**0.5), (1, -1, 2**0.5))


def _pairs(shape: tuple[int, int], dy: int, dx: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """The slices of every pixel and of its neighbour at (dy, dx), as two aligned views."""
    h, w = shape
    a = (slice(0, h - dy), slice(max(0, -dx), w - max(0, dx)))
    b = (slice(dy, h), slice(max(0, dx), w + min(0, dx) if dx < 0 else w))
    return a, b


def boundary_weights(image: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """GrabCut's contrast-sensitive weight exp(-beta |I_p - I_q|^2) / dist(p, q) for each neighbour offset,
    beta = 1 / (2 <|I_p - I_q|^2>) from the image itself (so it needs no tuning per photo)."""
    img = np.asarray(image, np.float32)
    sq = []
    for dy, dx, _ in _OFFSETS:
        a, b = _pairs(img.shape[:2], dy, dx)
        sq.append(((img[a] - img[b]) ** 2).sum(axis=2))
    beta = 1.0 / (2.0 * float(np.mean(np.concatenate([s.ravel() for s in sq]))) + 1e-12)
    return [(dy, dx, np.exp(-beta * s) / dist) for (dy, dx, dist), s in zip(_OFFSETS, sq, strict=True)]


@dataclass(frozen=True)
class CutGraph:
    """The s-t graph of a binary labelling: one node per free pixel (`free`, HxW), the source side foreground.
    Neighbour edges i <-> j of capacity `cap` both ways; terminal capacities `from_source` (paid when the
    pixel is background) and `to_sink` (paid when it is foreground)."""
    free: np.ndarray
    i: np.ndarray
    j: np.ndarray
    cap: np.ndarray
    from_source: np.ndarray
    to_sink: np.ndarray

    def with_costs(self, fg_cost: np.ndarray, bg_cost: np.ndarray) -> CutGraph:
        """This graph with the free pixels' own costs (HxW) added to its terminal capacities. A cost common to
        both labels changes no labelling and is left out: capacities must not be negative (a colour density
        above 1 gives a negative cost)."""
        fg, bg = fg_cost[self.free].astype(np.float64), bg_cost[self.free].astype(np.float64)
        least = np.minimum(fg, bg)
        return replace(self, from_source=self.from_source + bg - least, to_sink=self.to_sink + fg - least)


def cut_graph(fixed_fg: np.ndarray, fixed_bg: np.ndarray, smooth: float,
              weights: list[tuple[int, int, np.ndarray]]) -> CutGraph:
    """The graph of a labelling with these fixed pixels and boundary term, before any pixel's own cost: the
    fixed pixels are no nodes; the edge between a free pixel and a fixed neighbour becomes a terminal
    capacity of the free one (breaking it costs the same)."""
    h, w = fixed_fg.shape
    free = ~(fixed_fg | fixed_bg)
    n = int(free.sum())
    node = np.full((h, w), -1, np.int64)
    node[free] = np.arange(n)
    from_source, to_sink = np.zeros(n), np.zeros(n)
    ii, jj, caps = [], [], []
    for dy, dx, weight in weights:
        a, b = _pairs((h, w), dy, dx)
        wgt = smooth * weight
        fa, fb = free[a], free[b]
        both = fa & fb
        ii.append(node[a][both])
        jj.append(node[b][both])
        caps.append(wgt[both])
        for one, other in ((fa & ~fb, b), (fb & ~fa, a)):  # a free pixel beside a fixed one: a terminal edge
            mine = node[a][one] if other is b else node[b][one]
            beside_fg = fixed_fg[other][one]
            np.add.at(from_source, mine[beside_fg], wgt[one][beside_fg])  # background there breaks the edge
            np.add.at(to_sink, mine[~beside_fg], wgt[one][~beside_fg])
    return CutGraph(free, np.concatenate(ii), np.concatenate(jj), np.concatenate(caps).astype(np.float64),
                    from_source, to_sink)


class MinCut:
    """Minimum cuts of one graph (cut_graph) under pixel costs that change between solves, by Boykov and
    Kolmogorov's max-flow (PAMI 2004; PyMaxflow, in doubles: exact up to rounding). It is made for such grid
    graphs: its search trees are kept as the flow grows, where a general max-flow (Dinic's) searches afresh
    each phase. A later solve keeps the flow and the trees of the one before and changes only the terminal
    capacities of the pixels whose costs changed (Kohli and Torr's dynamic graph cuts, ICCV 2005): a second
    cut with a few more terms costs a fraction of the first."""

    def __init__(self, graph: CutGraph):
        self.graph = graph
        self._flow = None  # the PyMaxflow graph, once solved
        self._ids = None
        self._caps: tuple[np.ndarray, np.ndarray] | None = None

    def solve(self, fg_cost: np.ndarray, bg_cost: np.ndarray) -> np.ndarray:
        """Which free pixels are foreground (on the source's side) in a minimum cut with these costs (HxW)."""
        import maxflow
        g = self.graph.with_costs(fg_cost, bg_cost)
        if self._flow is None:
            n = len(g.to_sink)
            self._flow = maxflow.GraphFloat(n, len(g.i))
            self._ids = self._flow.add_nodes(n)
            if len(g.i):  # (PyMaxflow refuses empty arrays: free pixels with no free neighbour)
                self._flow.add_edges(g.i, g.j, g.cap, g.cap)
            self._flow.add_grid_tedges(self._ids, g.from_source, g.to_sink)
            self._flow.maxflow()
        else:  # the change of each terminal capacity, both raised alike to be non-negative (the same cut)
            d_source, d_sink = g.from_source - self._caps[0], g.to_sink - self._caps[1]
            changed = np.flatnonzero((d_source != 0) | (d_sink != 0))
            lift = np.maximum(0.0, -np.minimum(d_source[changed], d_sink[changed]))
            if len(changed):
                ids = self._ids[changed]
                self._flow.add_grid_tedges(ids, d_source[changed] + lift, d_sink[changed] + lift)
                self._flow.mark_grid_nodes(ids)
                self._flow.maxflow(reuse_trees=True)
        self._caps = (g.from_source, g.to_sink)
        return ~self._flow.get_grid_segments(self._ids)  # (get_grid_segments is True on the sink's side)


class BinaryCut:
    """binary_cut for one image, one set of fixed pixels and one boundary term, solved for as many pairs of
    costs as asked: each solve after the first starts from the one before (MinCut)."""

    def __init__(self, image: np.ndarray, fixed_fg: np.ndarray, fixed_bg: np.ndarray, smooth: float,
                 weights: list[tuple[int, int, np.ndarray]] | None = None):
        self.fixed_fg = fixed_fg
        self.cut = MinCut(cut_graph(fixed_fg, fixed_bg, smooth, boundary_weights(image) if weights is None
                                    else weights)) if (~(fixed_fg | fixed_bg)).any() else None

    def __call__(self, fg_cost: np.ndarray, bg_cost: np.ndarray) -> np.ndarray:
        out = self.fixed_fg.copy()
        if self.cut is not None:
            out[self.cut.graph.free] = self.cut.solve(fg_cost, bg_cost)
        return out


def binary_cut(image: np.ndarray, fg_cost: np.ndarray, bg_cost: np.ndarray, fixed_fg: np.ndarray,
               fixed_bg: np.ndarray, smooth: float,
               weights: list[tuple[int, int, np.ndarray]] | None = None) -> np.ndarray:
    """The foreground mask minimising sum(fg_cost where foreground, bg_cost where background) + smooth x
    the boundary term, with `fixed_fg` / `fixed_bg` pixels held at their labels (e.g. sure hints).
    `weights`: the boundary term's (boundary_weights(image) unless given). One solve of BinaryCut."""
    return BinaryCut(image, fixed_fg, fixed_bg, smooth, weights)(fg_cost, bg_cost)


GRABCUT_GAMMA = 50.0  # OpenCV's weight of GrabCut's boundary term (its colours in 0..255)
START_STEP = 0.05  # multi-start GrabCut: start k takes a frame k x 5% of the box's shorter side as background


def grabcut(image: np.ndarray, sure_fg: np.ndarray, sure_bg: np.ndarray, iters: int = 5,
            seed: int = 0, starts: int = 1, trial_iters: int = 5) -> np.ndarray | None:
    """OpenCV's GrabCut (Rother et al. 2004) of `image` (HxWx3 in [0, 1]) with the fixed pixels given and
    every other pixel started as probable foreground, as its box mode starts: the foreground (HxW bool),
    or None when it cannot run (no background pixel, or a colour model without samples).

    GrabCut only finds a local minimum of its energy, and a box's inside holds background colours its
    first foreground model learns. With `starts` > 1 it is also started with an inner frame of the free
    region's bounding box taken as probable background (k x START_STEP of its shorter side for start k: the
    margin a box leaves around its object), each start run `trial_iters` iterations (in threads: OpenCV releases the
    GIL), and the one of lowest GrabCut energy (grabcut_energy) runs on to `iters` (with `iters` <=
    `trial_iters`: the plain start alone)."""
    import cv2
    if not sure_bg.any():
        return None
    img8 = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)

    def run(mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        mask = mask.copy()
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(seed)  # (OpenCV's generator is per thread)
        try:
            cv2.grabCut(img8, mask, None, bgd, fgd, n, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            return None
        return mask, bgd, fgd

    first = np.full(image.shape[:2], cv2.GC_PR_FGD, np.uint8)
    first[sure_bg] = cv2.GC_BGD
    first[sure_fg] = cv2.GC_FGD
    if starts <= 1 or trial_iters >= iters:
        done = run(first, iters)
    else:
        from concurrent.futures import ThreadPoolExecutor
        ys, xs = np.nonzero(~sure_bg)  # the free region's bounding box (a box's inside)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        masks = []
        for k in range(starts):
            m = round(k * START_STEP * min(y1 - y0, x1 - x0))
            frame = np.zeros(sure_bg.shape, bool)
            frame[y0:y1, x0:x1] = True
            frame[y0 + m:y1 - m, x0 + m:x1 - m] = False
            mask = first.copy()
            mask[(mask == cv2.GC_PR_FGD) & frame] = cv2.GC_PR_BGD
            masks.append(mask)
        with ThreadPoolExecutor() as pool:
            trials = [t for t in pool.map(lambda m: run(m, trial_iters), masks) if t is not None]
        fore = (cv2.GC_FGD, cv2.GC_PR_FGD)  # a start that emptied a label has a model learned from no pixel
        trials = [t for t in trials if np.isin(t[0], fore).any() and not np.isin(t[0], fore).all()]
        if not trials:
            return None
        weights = boundary_weights(image)
        best = min(trials, key=lambda t: grabcut_energy(img8, t[0], t[1], t[2], weights))
        done = run(best[0], iters - trial_iters)
    if done is None:
        return None
    return (done[0] == cv2.GC_FGD) | (done[0] == cv2.GC_PR_FGD)


def gmm_nll(pixels: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Minus the log-likelihood of each of `pixels` (Nx3) under one of OpenCV GrabCut's colour models (its
    1x65 array: 5 weights, 5 means, 5 3x3 covariances)."""
    from classical.colour import mixture_loglik
    return -mixture_loglik(pixels, model[0, :5], model[0, 5:20].reshape(5, 3), model[0, 20:].reshape(5, 3, 3))


def grabcut_energy(img8: np.ndarray, mask: np.ndarray, bgd: np.ndarray, fgd: np.ndarray,
                   weights: list[tuple[int, int, np.ndarray]]) -> float:
    """GrabCut's energy of an OpenCV labelling `mask` of `img8` (uint8) under its colour models: every
    pixel's minus log-likelihood under its label's model plus GRABCUT_GAMMA x the boundary term (`weights`:
    boundary_weights of the image)."""
    import cv2
    pixels = img8.reshape(-1, 3).astype(np.float64)
    costs = np.stack([gmm_nll(pixels, fgd), gmm_nll(pixels, bgd)], axis=-1).reshape(*mask.shape, 2)
    background = ((mask == cv2.GC_BGD) | (mask == cv2.GC_PR_BGD)).astype(np.uint8)
    return potts_energy(costs, background, GRABCUT_GAMMA, weights)


def potts_energy(costs: np.ndarray, labels: np.ndarray, smooth: float,
                 weights: list[tuple[int, int, np.ndarray]]) -> float:
    """sum of each pixel's cost of its label + smooth x the boundary weights of neighbours labelled apart."""
    unary = float(np.take_along_axis(costs, labels[:, :, None].astype(np.intp), 2).sum())
    pairwise = 0.0
    for dy, dx, weight in weights:
        a, b = _pairs(labels.shape, dy, dx)
        pairwise += float(weight[labels[a] != labels[b]].sum())
    return unary + smooth * pairwise


def expansion_cut(image: np.ndarray, costs: np.ndarray, sure: np.ndarray, smooth: float,
                  rounds: int = 3) -> np.ndarray:
    """Labels (HxW) for K > 2 layers minimising sum(costs[..., label]) + smooth x the boundary term counted
    between neighbours with different labels (a Potts model), by alpha-expansion (Boykov, Veksler & Zabih,
    PAMI 2001): for each label in turn, the exact min cut of "take this label or keep yours", kept when it
    lowers the energy, for `rounds` sweeps or until none does. `sure` (HxW, -1 where free) holds pixels at
    their labels. A move between two free neighbours with different labels, neither taking the new one,
    costs a full boundary either way; it is split into half an edge and half a cost of keeping on each
    (exact for that move); beside a held pixel of another label keeping costs the same as moving."""
    weights = boundary_weights(image)
    costs = costs - costs.min(axis=2, keepdims=True)  # the same minimiser, and no negative capacities
    held = sure >= 0
    labels = np.where(held, sure, np.argmin(costs, axis=2)).astype(np.intp)
    energy = potts_energy(costs, labels, smooth, weights)
    for _ in range(rounds):
        improved = False
        for alpha in range(costs.shape[2]):
            is_alpha = labels == alpha
            free = ~is_alpha & ~held
            if not free.any():
                continue
            keep = np.take_along_axis(costs, labels[:, :, None], 2)[:, :, 0].astype(np.float64)
            scaled = []
            for dy, dx, weight in weights:
                a, b = _pairs(labels.shape, dy, dx)
                apart = (labels[a] != labels[b]) & ~is_alpha[a] & ~is_alpha[b]
                both_free = apart & free[a] & free[b]
                half = 0.5 * smooth * weight * both_free
                keep[a] += half
                keep[b] += half
                scaled.append((dy, dx, np.where(both_free, 0.5 * weight, np.where(apart, 0.0, weight))))
            take = binary_cut(image, costs[:, :, alpha].astype(np.float64), keep, is_alpha, held & ~is_alpha,
                              smooth, scaled)
            proposal = np.where(take, alpha, labels)
            e = potts_energy(costs, proposal, smooth, weights)
            if e < energy - 1e-6 * max(1.0, abs(energy)):
                labels, energy, improved = proposal, e, True
        if not improved:
            break
    return labels
