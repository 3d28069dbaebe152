"""The graph cut's max-flow: Boykov and Kolmogorov's (PyMaxflow, what classical.graphcut uses) against scipy's
Dinic (what it used before, kept here only, as the baseline), on the cuts that real runs make, and end to end.

1. Cuts: every minimum cut segmentation.py makes on each case, recorded from its run with the nets on and with
   them off, its solves replayed by both max-flows (and by BK solving each afresh, without the reuse of the
   last solve's flow): the time of each (median of --cut_repeats replays), and whether the labels are equal
   or, where a tie is broken otherwise, the energies are (within 1e-6 relative; Dinic's capacities are
   integers in thousandths, as they were, so its minimum can differ by that rounding).
2. End to end: each case's run with either max-flow swapped in (classical.graphcut.MinCut), both in this
   process, interleaved (the first a warm-up, not timed): wall time, the ratio BK / Dinic, and whether
   the outputs (mask.png, or labels.png with three layers) are equal.

Cases (third-party data from ../shared/realdata/, read there, never copied): the first frame of each DAVIS
two-object video (854x480, three layers from the loose hints: the default system of three Double-DIPs, and
nets off), GrabCut benchmark photo 24077 (two layers from its lasso trimap), and the same photo upscaled to
12 megapixels with a loose trimap (a wide open band; the cut runs at CUT_MAX_SIDE).

    python benchmarks/cut.py                    # everything (about 10 minutes on 2 cores)
    python benchmarks/cut.py --quick            # one DAVIS frame, a few iterations (smoke test)
Writes benchmarks/results/cut.md (also printed); without the data it says so and exits with status 0.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import realdata  # noqa: E402
from quality import run_script  # noqa: E402

import classical.graphcut as graphcut  # noqa: E402
from classical.graphcut import CutGraph  # noqa: E402
from utils.device import machine_line  # noqa: E402
from utils.image_io import load_image  # noqa: E402

DINIC_SCALE = 1000.0  # the old path's integer capacities: costs in thousandths
QUICK = ["--step1_iters=3"]


def dinic_min_cut(g: CutGraph) -> np.ndarray:
    """The baseline: the old classical.graphcut path, scipy's maximum_flow (Dinic's algorithm) on a sparse
    matrix of integer capacities, the source's side found by a breadth-first search of the residual graph."""
    n = len(g.to_sink)
    source, sink, ids = n, n + 1, np.arange(n)
    rows = np.concatenate([g.i, g.j, np.full(n, source), ids])
    cols = np.concatenate([g.j, g.i, ids, np.full(n, sink)])
    caps = np.concatenate([g.cap, g.cap, g.from_source, g.to_sink])
    capacity = np.round(caps * DINIC_SCALE).clip(0, 2**31 - 1).astype(np.int32)
    graph = sp.csr_matrix((capacity, (rows, cols)), shape=(n + 2, n + 2))
    graph.sum_duplicates()
    flow = maximum_flow(graph, source, sink, method="dinic").flow
    residual = (graph - flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reached = np.zeros(n + 2, bool)
    reached[breadth_first_order(residual, source, directed=True, return_predecessors=False)] = True
    return reached[:n]


BK = graphcut.MinCut  # the project's


class DinicCut(BK):
    """The old path: every solve a fresh Dinic max-flow of the whole graph."""

    def solve(self, fg_cost: np.ndarray, bg_cost: np.ndarray) -> np.ndarray:
        return dinic_min_cut(self.graph.with_costs(fg_cost, bg_cost))


class FreshBK(BK):
    """BK without the reuse: every solve a new graph (what one binary_cut call does)."""

    def solve(self, fg_cost: np.ndarray, bg_cost: np.ndarray) -> np.ndarray:
        return BK(self.graph).solve(fg_cost, bg_cost)


SOLVERS = {"Dinic (scipy, before)": DinicCut, "BK (PyMaxflow, now)": BK}
REPLAYS = {**SOLVERS, "BK, each solve afresh": FreshBK}


def cut_energy(g: CutGraph, fg: np.ndarray) -> float:
    """The energy of labelling the free pixels `fg` (True: foreground, the source's side) in `g` (with its costs)."""
    return float(np.where(fg, g.to_sink, g.from_source).sum() + g.cap[fg[g.i] != fg[g.j]].sum())


@contextlib.contextmanager
def solver(cls: type, record: list | None = None) -> Iterator[None]:
    """classical.graphcut's MinCut swapped for `cls` (every cut, the expansion moves' included, makes its MinCut
    through the module); with `record`, each cut made is appended there as (its graph, [the costs of each
    solve])."""
    class Recorded(cls):
        def __init__(self, graph: CutGraph):
            super().__init__(graph)
            self.solves: list = []
            if record is not None:
                record.append((graph, self.solves))

        def solve(self, fg_cost: np.ndarray, bg_cost: np.ndarray) -> np.ndarray:
            self.solves.append((fg_cost, bg_cost))
            return super().solve(fg_cost, bg_cost)
    graphcut.MinCut = Recorded
    try:
        yield
    finally:
        graphcut.MinCut = BK


def replay(cls: type, graph: CutGraph, solves: list, repeats: int) -> tuple[float, np.ndarray]:
    """The median time of solving a recorded cut's sequence of costs with `cls`, and its last labels."""
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        cut = cls(graph)
        for fg_cost, bg_cost in solves:
            labels = cut.solve(fg_cost, bg_cost)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), labels


def cases(work: Path, quick: bool) -> dict[str, list[str]]:
    """Each case's segmentation.py arguments (with the nets on; nets off adds --dip=false)."""
    import cv2
    out = {}
    frames = realdata.layered_frames()
    first = {}
    for f in frames:
        first.setdefault(f.video, f)
    for f in list(first.values())[:1 if quick else None]:
        out[f"DAVIS {f.name}, three layers"] = [f"--input={f.image}", "--layers=3", "--truth=",
                                               *[f"--{k}_hint={f.hint('loose', k)}" for k in ("fg", "mg", "bg")]]
    if quick:
        return out
    g = realdata.REAL / "grabcut"
    trimap = cv2.imread(str(g / "24077_trimap_lasso.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(work / "24077_fg.png"), np.where(trimap == 255, 255, 0).astype(np.uint8))
    cv2.imwrite(str(work / "24077_bg.png"), np.where(trimap <= 64, 255, 0).astype(np.uint8))
    out["GrabCut 24077, lasso, two layers"] = [f"--input={g / '24077.jpg'}", f"--fg_hint={work / '24077_fg.png'}",
                                               f"--bg_hint={work / '24077_bg.png'}", "--truth="]
    from photos import make_photos
    out["GrabCut 24077 at 12 MP, loose, two layers"] = make_photos(work, 12, "loose")["segmentation"]
    return out


def output_of(run_dir: Path) -> np.ndarray:
    name = "labels.png" if (run_dir / "labels.png").exists() else "mask.png"
    return load_image(run_dir / name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one DAVIS frame, a few iterations (smoke test)")
    p.add_argument("--cut_repeats", type=int, default=3, help="solves of each recorded cut per max-flow (median)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cut.md"))
    a = p.parse_args(argv)
    if not (realdata.REAL / "davis_multi").is_dir() or not (realdata.REAL / "grabcut").is_dir():
        print(f"the real data is not at {realdata.REAL}: nothing to measure (skipped)")
        return 0
    start = time.time()
    work = ROOT / "output" / f"cut_{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    common = ["--progress=false", f"--output_dir={work / 'runs'}", "--seed=0", *(QUICK if a.quick else [])]
    names = list(SOLVERS)
    cut_rows, e2e_rows = [], []
    all_cases = cases(work, a.quick)
    run_script("segmentation", [*next(iter(all_cases.values())), *common, "--step1_iters=2"])  # warm-up
    for k, (case, args) in enumerate(all_cases.items()):
        for mode, more in (("defaults", []), ("nets off", ["--dip=false"])):
            order = names if k % 2 == 0 else names[::-1]  # interleaved: neither always runs first
            took, outputs, graphs = {}, {}, []
            for name in order:
                with solver(SOLVERS[name], graphs if name == names[1] else None):
                    t = time.perf_counter()
                    r = run_script("segmentation", [*args, *common, *more])
                    took[name] = time.perf_counter() - t
                outputs[name] = output_of(r["run_dir"])
            same = bool(np.array_equal(*outputs.values()))
            e2e_rows.append((case, mode, took[names[0]], took[names[1]], same))
            times = {n: 0.0 for n in REPLAYS}
            equal_labels = equal_energy = solves = 0
            for graph, costs in graphs:
                found = {}
                for name, cls in REPLAYS.items():
                    took_here, found[name] = replay(cls, graph, costs, a.cut_repeats)
                    times[name] += took_here
                last = graph.with_costs(*costs[-1])
                e = [cut_energy(last, found[n]) for n in names]
                equal_labels += bool(np.array_equal(found[names[0]], found[names[1]]))
                equal_energy += abs(e[0] - e[1]) <= 1e-6 * max(1.0, abs(e[0])) + len(last.to_sink) * 0.5 / DINIC_SCALE
                solves += len(costs)
            cut_rows.append((case, mode, len(graphs), solves,
                             int(np.mean([len(g.to_sink) for g, _ in graphs])) if graphs else 0,
                             *times.values(), equal_labels, equal_energy))
            print(f"{case}, {mode}: end to end {took[names[0]]:.1f} s / {took[names[1]]:.1f} s, outputs equal: {same}; "
                  f"{len(graphs)} cuts {times[names[0]]:.2f} s / {times[names[1]]:.2f} s", flush=True)
    lines = [f"# The graph cut's max-flow{' (quick)' if a.quick else ''}", "",
             f"`python benchmarks/cut.py {' '.join(argv if argv is not None else sys.argv[1:])}` on {machine_line()}; "
             f"{time.time() - start:.0f} s in all.", "",
             "## The cuts of real runs, solved by each max-flow", "",
             "Every cut a run made (recorded), its solves replayed by each max-flow (median of "
             f"{a.cut_repeats}), seconds summed over the run's cuts. A cut is solved more than once where a "
             "term is added after a first look (cut_labels' band): BK starts the next solve from the last one's "
             "flow and trees; the column 'afresh' shows BK without that.", "",
             f"| case | run | cuts | solves | free pixels per cut | {names[0]} (s) | {names[1]} (s) | "
             "BK, each solve afresh (s) | speed-up | labels equal | energy equal |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    total = np.zeros(3)
    for case, mode, n, solves, px, old, new, fresh, eq, ee in cut_rows:
        total += (old, new, fresh)
        lines.append(f"| {case} | {mode} | {n} | {solves} | {px} | {old:.2f} | {new:.3f} | {fresh:.3f} | "
                     f"{old / max(new, 1e-9):.1f}x | {eq} of {n} | {ee} of {n} |")
    lines.append(f"| **all** | | | | | **{total[0]:.2f}** | **{total[1]:.2f}** | **{total[2]:.2f}** | "
                 f"**{total[0] / max(total[1], 1e-9):.1f}x** | | |")
    lines += ["", "Energy equal: within the rounding of Dinic's integer capacities (0.0005 a pixel) or 1e-6 relative.",
              "", "## End to end", "",
              "segmentation.py in this process with each max-flow swapped in; wall time from the call to its "
              "results.json.", "",
              f"| case | run | with {names[0]} (s) | with {names[1]} (s) | time now / before | outputs equal |",
              "|---|---|---|---|---|---|"]
    for case, mode, old, new, same in e2e_rows:
        lines.append(f"| {case} | {mode} | {old:.1f} | {new:.1f} | {new / old:.2f} | {'yes' if same else 'no'} |")
    for mode in ("defaults", "nets off"):
        rows = [(o, n) for c, m, o, n, _ in e2e_rows if m == mode and "three layers" in c]
        if rows:
            lines.append(f"| **DAVIS three layers, all frames** | {mode} | {sum(o for o, _ in rows):.1f} | "
                         f"{sum(n for _, n in rows):.1f} | {sum(n for _, n in rows) / sum(o for o, _ in rows):.2f} | |")
    out = Path(a.out if not a.quick or a.out != p.get_default("out") else str(Path(a.out).with_name("cut_quick.md")))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
