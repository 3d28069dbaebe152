"""Where a run computes: the device (CUDA, then Apple MPS, then CPU), seeding, the CPU threads it may use,
and the versions logged with every run.

Threads: PyTorch starts as many threads as the machine has cores, and two such processes on the same
cores do not share them, they fight (OpenMP threads spin while they wait): two runs on a 2-core
machine took 7x and 8x their time alone. So every run registers itself in a folder of live runs, and
uses its share of the cores: the cores it may run on, divided among the runs alive on this machine
(and among torchrun's local processes). The loop calls `ThreadShare.adjust` as it goes, so a run that
started alone gives up half its cores when a second one starts, and takes them back when it ends."""
from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from utils.errors import UserError

LIVE_RUNS = Path(tempfile.gettempdir()) / "coupled-dip-live-runs"


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU for 'auto'; an explicit name must be available. On CUDA, cuDNN
    picks its fastest convolution algorithms (the shapes never change during a run)."""
    name = name.lower()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    elif name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device=cuda but no CUDA GPU is visible to PyTorch (use --device=auto or cpu)")
    elif name == "mps" and not mps:
        raise UserError("--device=mps but Apple's MPS backend is not available (use --device=auto or cpu)")
    elif name != "cpu" and not name.startswith(("cuda", "mps")):
        raise UserError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    else:
        device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so CPU runs repeat exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


class ThreadShare:
    """This process's share of the CPU cores among the runs alive on the machine (see the module's doc).

    `threads` > 0 fixes the count (the share is then neither computed nor adjusted)."""

    def __init__(self, threads: int = 0, every_s: float = 2.0) -> None:
        self.fixed, self.every_s = threads, every_s
        self.cores = available_cores()
        self.local_procs = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        self.pidfile: Path | None = None
        self.threads = 0
        self.history: list[int] = []  # every thread count this run has used, in order
        self._last = 0.0
        self.warned = False

    def __enter__(self) -> ThreadShare:
        if not self.fixed:
            try:
                LIVE_RUNS.mkdir(exist_ok=True)
                self.pidfile = LIVE_RUNS / str(os.getpid())
                self.pidfile.write_text(str(self.cores))
            except OSError:  # a read-only temp folder: no sharing, just our cores
                self.pidfile = None
        self.adjust(force=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.pidfile is not None:
            self.pidfile.unlink(missing_ok=True)
            self.pidfile = None

    def live_runs(self) -> int:
        """Runs alive on this machine (this one included); stale entries of dead processes are removed."""
        if self.pidfile is None:
            return 1
        n = 0
        for f in LIVE_RUNS.iterdir():
            if not f.name.isdigit():
                continue
            if _alive(int(f.name)):
                n += 1
            else:
                f.unlink(missing_ok=True)
        return max(n, 1)

    def adjust(self, force: bool = False) -> int:
        """Set torch's thread count to this run's share of the cores (at most every `every_s` seconds)."""
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return self.threads
        self._last = now
        if self.fixed:
            want = self.fixed
        else:
            sharing = max(self.live_runs(), self.local_procs)
            want = max(1, self.cores // sharing)
            if sharing > self.cores and not self.warned:
                print(f"warning: {sharing} runs share {self.cores} cores: each is slow; run them one after "
                      "another (a folder as --input runs its images in one process)", file=sys.stderr)
                self.warned = True
        if want != self.threads:
            torch.set_num_threads(want)
            self.threads = want
            self.history.append(want)
        return want


_SHARE: ThreadShare | None = None


@contextlib.contextmanager
def cpu_share(threads: int = 0) -> Iterator[ThreadShare]:
    """A run's share of the cores for as long as it runs (`threads` > 0: exactly that many threads)."""
    global _SHARE
    previous = _SHARE
    with ThreadShare(threads) as share:
        _SHARE = share
        try:
            yield share
        finally:
            _SHARE = previous


def threads_used() -> list[int]:
    """The thread counts the current run has used, in order (seeded CPU runs repeat exactly at the same
    count: results.json records them, and --threads=N pins one)."""
    return list(_SHARE.history) if _SHARE is not None else [torch.get_num_threads()]


def adjust_threads() -> None:
    """Called by the loop as it goes: follow the runs that started or ended since (cheap: a clock check)."""
    if _SHARE is not None:
        _SHARE.adjust()


def environment() -> dict[str, Any]:
    """Versions and hardware, logged with every run."""
    import cv2
    import skimage
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "opencv": cv2.__version__, "scikit-image": skimage.__version__, "platform": platform.platform(),
            "cpu_cores": available_cores(), "cpu_threads": threads_used(),
            "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def machine_line() -> str:
    """One line naming the machine a benchmark ran on, for its results file."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return (f"{platform.machine()} CPU ({torch.backends.cpu.get_cpu_capability()}, {available_cores()} cores), "
            f"torch {torch.__version__}")
