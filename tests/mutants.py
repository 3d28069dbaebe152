"""Deliberate bugs, one at a time, against the tests that should catch them: which tests fail (a bug no test
catches is a hole in the suite). Each bug is one exact text replacement in the code, undone afterwards.

    python tests/mutants.py                 # every bug (about 15 minutes on 2 cores)
    python tests/mutants.py --only=omega    # the bugs whose name holds a word

Prints the table kept in tests/README.md. Not part of the suite (it rewrites the code while it runs).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (name, file, the exact text, the bug put in its place, the tests run against it)
MUTANTS = [
    ("omega rule replaced by a constant 0.95", "classical/haze.py",
     "    if below_black(max_omega) <= black_share:", "    if True:", ["tests/test_dehazing.py"]),
    ("dense-haze omega (He et al.'s size) never taken", "dehazing_system.py",
     "        if weight > 0:", "        if False:", ["tests/test_dehazing.py"]),
    ("omega floor dropped", "dehazing_system.py",
     "    return airlight, max(omega, min(cfg.omega_floor, cfg.t_prior_omega))", "    return airlight, omega",
     ["tests/test_dehazing.py"]),
    ("the inversion leaves half the haze (t -> 0.5 + 0.5 t)", "classical/haze.py",
     "        tt = t[sl, :, None]", "        tt = 0.5 + 0.5 * t[sl, :, None]",
     ["tests/test_nets_off.py", "tests/test_dehazing.py"]),
    ("EXIF orientation 6 turned the wrong way", "utils/image_io.py",
     "6: (3, False)", "6: (1, False)", ["tests/test_image_io.py"]),
    ("a resumed run accepts a changed setting", "utils/config.py",
     "        if name not in RESUME_MAY_CHANGE and value != stored.get(name):", "        if False:",
     ["tests/test_checkpoint.py"]),
    ("a resumed run accepts another script's run", "utils/config.py",
     '    if meta.get("script") != script:', "    if False:", ["tests/test_checkpoint.py"]),
    ("the mask's vote in the cut made uniform", "net/segment.py",
     "    p = np.clip(at_cut[:, :, 0] if at_cut is not None else resize(soft_fg, shape) if soft_fg is not None\n"
     "                else np.full(shape, 0.5, np.float32), 1e-4, 1 - 1e-4)",
     "    p = np.full(shape, 0.5, np.float32)", ["tests/test_segmentation.py"]),
    ("learned airlight starts at a fresh net's grey", "net/dehaze.py",
     "        a_net.start_constant(", "        (lambda *_: None)(", ["tests/test_dehazing.py"]),
    ("weight maps constant 0.5", "net/separate.py",
     "            return mix_net(grid).float().transpose(0, 1)",
     "            return 0.5 + 0 * mix_net(grid).float().transpose(0, 1)", ["tests/test_separation.py"]),
    ("rank 0 of a two-process video run seeded as rank 1", "dehazing_system.py",
     "    seed_everything(cfg.seed + rank)", "    seed_everything(cfg.seed + rank + size - 1)",
     ["tests/test_video.py"]),
    ("video frames written undehazed", "dehazing_system.py",
     "    J = results[-1].J\n", "    J = frame\n", ["tests/test_video.py"]),
    ("saliency smoothed as little as before (1%)", "classical/hints.py",
     "max(image.shape[:2]) / 8", "max(image.shape[:2]) / 100", ["tests/test_hints.py"]),
    ("box labels: GrabCut's foreground taken as background", "net/segment.py",
     "            return _to_full(image, img, labels, s)", "            return _to_full(image, img, ~labels, s)",
     ["tests/test_box.py"]),
    ("free-space check before a run removed", "utils/run_folder.py",
     "        if free < need_bytes:", "        if free < 0:", ["tests/test_what_happens_when.py"]),
    ("graph cut: edges to fixed neighbours dropped", "classical/graphcut.py",
     "            np.add.at(to_sink, mine[~beside_fg], wgt[one][~beside_fg])", "            pass",
     ["tests/test_graphcut.py"]),
    ("graph cut: a second solve forgets which pixels changed", "classical/graphcut.py",
     "                self._flow.mark_grid_nodes(ids)\n", "", ["tests/test_graphcut.py"]),
]


def failed_tests(files: list[str]) -> tuple[list[str], float]:
    """The tests of `files` that fail (pytest's short summary), and the seconds it took."""
    t = time.time()
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *files], cwd=ROOT,
                       capture_output=True, text=True)
    names = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - |$)", p.stdout, re.M)
    return [n.split("::")[-1] for n in names], time.time() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="the bugs whose name holds this word")
    a = p.parse_args(argv)
    rows = []
    for name, file, old, new, tests in MUTANTS:
        if a.only and a.only not in name:
            continue
        path = ROOT / file
        source = path.read_text()
        if source.count(old) != 1:
            rows.append(f"| {name} | `{file}` | (the text to change is not there once: update tests/mutants.py) | |")
            continue
        try:
            path.write_text(source.replace(old, new))
            caught, seconds = failed_tests(tests)
        finally:
            path.write_text(source)
        shown = ", ".join(f"`{c}`" for c in caught[:3]) + (f" and {len(caught) - 3} more" if len(caught) > 3 else "")
        rows.append(f"| {name} | `{file}` | {shown or '**none: not caught**'} | {', '.join(tests)} |")
        print(rows[-1], f"({seconds:.0f} s)", flush=True)
    print("\n| deliberate bug | in | caught by | tests run |\n|---|---|---|---|\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
