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
