"""What every experiment run shares: device choice, seeding, a fresh output folder, results.json,
and the command-line wrapper that turns user errors into one line and exit status 2."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from utils.atomic import atomic_path
from utils.errors import UserError


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU for 'auto'; an explicit name must be available. On CUDA, cuDNN
    picks its fastest convolution algorithms (the shapes never change during a run)."""
    device = _pick_device(name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return device


def _pick_device(name: str) -> torch.device:
    name = name.lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device=cuda but no CUDA GPU is visible to PyTorch (use --device=auto or cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device=mps but Apple's MPS backend is not available (use --device=auto or cpu)")
    if name != "cpu" and not name.startswith(("cuda", "mps")):
        raise UserError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so CPU runs repeat exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def new_run_dir(output_dir: str | os.PathLike, name: str, need_bytes: int = 0) -> Path:
    """Create a fresh folder output_dir/name_YYYYmmdd-HHMMSS[_N]; never reuses an existing one.

    Writability and free space (`need_bytes`, the run's estimated output size) are checked here, before
    any optimisation, so a bad output folder or a full disk fails in a second, not after an hour.
    """
    root = Path(output_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(root).free
        if free < need_bytes:
            raise UserError(f"not enough free space in {root}: {free / 1e6:.0f} MB free, the results need about "
                            f"{need_bytes / 1e6:.0f} MB (free some space or choose --output_dir=PATH)")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for n in range(1, 10000):
            run = root / (f"{name}_{stamp}" + (f"_{n}" if n > 1 else ""))
            try:
                run.mkdir()
                break
            except FileExistsError:
                continue
        with tempfile.NamedTemporaryFile(dir=run, prefix=".probe") as fh:
            fh.write(b"x" * 4096)
            fh.flush()
    except OSError as e:
        raise UserError(f"cannot write to output folder {root}: {e.strerror or e} "
                        "(choose another with --output_dir=PATH)") from None
    return run


def environment() -> dict[str, Any]:
    import cv2
    import skimage
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "opencv": cv2.__version__, "scikit-image": skimage.__version__, "platform": platform.platform(),
            "cpu_threads": torch.get_num_threads(),
            "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (Path, torch.device)):
        return str(x)
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def write_json(path: str | os.PathLike, obj: dict[str, Any]) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    p = Path(path)
    with atomic_path(p) as tmp, open(tmp, "w") as fh:
        json.dump(_jsonable(obj), fh, indent=2)
        fh.write("\n")
    return p


def finish_run(run_dir: Path, record: dict[str, Any], report: list[str], interrupted: bool, wall: float) -> None:
    """Write results.json (with wall time and the interrupted flag), print the report, then the run folder
    as the last line."""
    write_json(run_dir / "results.json", {**record, "interrupted": interrupted, "wall_time_s": wall})
    if interrupted:
        report.append("interrupted: the best result so far was written")
    report.append(f"wall time {wall:.1f} s")
    for line in report:
        print(line)
    print(run_dir)


class StopRequest:
    """SIGINT/SIGTERM set a flag that the optimisation loop polls, so a run ends cleanly with its best
    result written; a second Ctrl-C falls through to Python's default and stops at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return 128 + self.signal if self.signal else 0

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name} received: finishing with the best result so far "
              "(Ctrl-C again to abort)", file=sys.stderr)

    def __enter__(self) -> StopRequest:
        for s in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


STOP = StopRequest()


def cli(main: Callable[[list[str]], int | None], argv: list[str] | None = None) -> None:
    """Run `main(argv)` as a command: a UserError is one line on stderr and exit 2 (`--debug` shows the
    traceback); an interrupted run exits 130 (SIGINT) or 143 (SIGTERM) after writing its results."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv

    def fail(message: str, code: int) -> int:
        if debug:
            traceback.print_exc()
        print(message, file=sys.stderr)
        return code

    try:
        with STOP:
            code = main(argv) or 0
        if STOP:
            code = STOP.exit_code
    except UserError as e:
        code = fail(f"error: {e}", 2)
    except KeyboardInterrupt:
        code = fail("aborted", 130)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        code = fail(f"error: cannot write results ({e.strerror}: {e.filename or 'output folder'}); free some space "
                    "or choose --output_dir=PATH (finished files are complete; a checkpoint, if any, can be "
                    "resumed)", 2)
    except MemoryError:
        code = fail("error: out of memory (lower --max_side or use a smaller image)", 2)
    sys.exit(code)
