import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAPER = ROOT.parent / "shared" / "paper"


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield


def write_inputs(d: Path, shape: tuple[int, int], erosion: int) -> Path:
    """A two-texture image of `shape` with its hints (truth eroded by `erosion`), truth and a hazy version."""
    import numpy as np

    from utils.image_io import save_image
    from utils.synthetic import eroded_hints, two_texture
    img, truth = two_texture(shape)
    fg, bg = eroded_hints(truth.astype(np.uint8), [1, 0], size=erosion)
    for name, a in {"img": img, "fg": fg, "bg": bg, "truth": truth.astype(np.float32),
                    "hazy": img * 0.6 + 0.4 * np.float32(0.8)}.items():
        save_image(d / f"{name}.png", a)
    return d


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory):
    """56x40 inputs for fast script runs."""
    return write_inputs(tmp_path_factory.mktemp("tiny"), (40, 56), 7)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Each test's report of its call, kept on the item (a browser test's fixture screenshots a failure)."""
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
