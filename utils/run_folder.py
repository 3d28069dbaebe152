"""Each run writes a fresh folder (never overwriting another) that ends with results.json: its settings,
versions, device, iterations, metrics and wall time."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from utils.atomic import atomic_path
from utils.errors import UserError


@dataclass
class RunResult:
    """What a script's main() returns: the run folder and what it wrote to results.json."""
    run_dir: Path
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return bool(self.results.get("interrupted"))


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


def jsonable(x: Any) -> Any:
    """x with numpy values, paths and devices turned into JSON's types (non-finite floats: null)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (Path, torch.device)):
        return str(x)
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def write_json(path: str | os.PathLike, obj: dict[str, Any]) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    p = Path(path)
    with atomic_path(p) as tmp, open(tmp, "w") as fh:
        json.dump(jsonable(obj), fh, indent=2)
        fh.write("\n")
    return p


def finish_run(run_dir: Path, record: dict[str, Any], report: list[str], interrupted: bool, wall: float,
               quiet: bool = False) -> RunResult:
    """Write results.json (with wall time and the interrupted flag), print the report, then the run folder
    as the last line."""
    results = {**record, "interrupted": interrupted, "wall_time_s": wall}
    write_json(run_dir / "results.json", results)
    if interrupted:
        report.append("interrupted: the best result so far was written")
    report.append(f"wall time {wall:.1f} s")
    if not quiet:
        for line in report:
            print(line)
        print(run_dir, flush=True)
    return RunResult(run_dir, jsonable(results))
