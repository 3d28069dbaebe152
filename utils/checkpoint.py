"""Checkpoints of long runs, so an hour of optimisation survives a crash, a reboot or Ctrl-C.

A run is a fixed sequence of `optimise()` calls (steps, pairwise runs, stages, frames). The active
checkpoint records each call in order: a finished call keeps its result and the state it ended in,
the call in progress its nets, optimiser, inputs, loop bookkeeping, RNG state and next iteration.
Resuming replays the script from the start with the same settings: finished calls are skipped (their
saved result and end state are restored), the interrupted one continues where it stopped, so a seeded
CPU run gives exactly the result it would have given uninterrupted.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from utils.atomic import atomic_path
from utils.errors import UserError

FILE, META = "checkpoint.pt", "checkpoint.json"
FORMAT = 1


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def to_device(x: Any, device: torch.device, copy: bool = False) -> Any:
    """x with every tensor inside (dicts, lists, tuples) moved to `device` (and copied if asked)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to(device)
        return x.clone() if copy else x
    if isinstance(x, dict):
        return {k: to_device(v, device, copy) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device, copy) for v in x)
    return x


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_meta(run_dir: Path, meta: dict[str, Any]) -> None:
    """checkpoint.json: the script and settings a run was started with (what --resume reads first)."""
    with atomic_path(Path(run_dir) / META) as tmp:
        Path(tmp).write_text(json.dumps({"format": FORMAT, **meta}, indent=2, default=str) + "\n")


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """The script name and settings a checkpointed run was started with (checkpoint.json)."""
    path = Path(run_dir) / META
    video = (Path(run_dir) / VIDEO_STATE.format(rank=0)).is_file()
    if not path.is_file() or not ((Path(run_dir) / FILE).is_file() or video):
        raise UserError(f"--resume={run_dir}: no {FILE} there; resume needs the folder of a run started with "
                        "--checkpoint_every=N, or of a video run")
    try:
        meta = json.loads(path.read_text())
        assert isinstance(meta.get("config"), dict) and meta.get("format") == FORMAT
    except (OSError, ValueError, AssertionError):
        raise UserError(f"--resume={run_dir}: {META} is damaged or from another version; start a new run") from None
    if video:
        load_video_state(run_dir, 0)  # a damaged state is reported now, before a run folder is made
    else:
        _records(run_dir)  # a damaged checkpoint is reported now, before a run folder is made
    return meta


def threads_for(threads: int, resume: str) -> int:
    """The CPU threads a run uses: `threads` if set; a resumed run keeps the count its first part started
    with (seeded CPU runs repeat exactly at the same count); else 0, this run's share of the cores."""
    return threads or (int(read_meta(resume).get("threads", 0)) if resume else 0)


VIDEO_STATE = "video_state_{rank}.pt"  # a video run's resumable state, one per process


def save_video_state(run_dir: Path, rank: int, state: Any) -> None:
    """A video process's state (see dehazing_system.VideoState), written atomically."""
    with atomic_path(Path(run_dir) / VIDEO_STATE.format(rank=rank)) as tmp:
        torch.save({"format": FORMAT, "state": state}, tmp)


def load_video_state(run_dir: str | Path, rank: int) -> Any:
    """The saved state of process `rank` of a video run."""
    path = Path(run_dir) / VIDEO_STATE.format(rank=rank)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        assert saved.get("format") == FORMAT
    except Exception as e:  # a missing or damaged file fails in many ways; each is one clear line
        raise UserError(f"--resume={run_dir}: cannot read {path.name} ({type(e).__name__}); start a new run, or "
                        "resume with as many processes as the run had") from None
    return saved["state"]


_LOADED: dict[Path, list[dict[str, Any]]] = {}


def _records(run_dir: str | Path) -> list[dict[str, Any]]:
    """The saved records of a run's optimise() calls (read once)."""
    path = (Path(run_dir) / FILE).resolve()
    if path not in _LOADED:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=False)
            assert saved.get("format") == FORMAT
            _LOADED[path] = saved["records"]
        except Exception as e:  # a damaged file fails in many ways; each is one clear line
            raise UserError(f"--resume={run_dir}: cannot read {FILE} ({type(e).__name__}); start a new run") \
                from None
    return _LOADED[path]


class Checkpoint:
    """The records of one run's optimise() calls, written to run_dir/checkpoint.pt every `every`
    iterations, at the end of each call and when the run is interrupted."""

    def __init__(self, run_dir: Path, every: int, meta: dict[str, Any], resume: str | Path | None = None):
        self.path, self.every = Path(run_dir) / FILE, every
        self.records: list[dict[str, Any]] = []
        self.replay: list[dict[str, Any]] = []
        self.call = -1
        if resume:
            self.replay = _records(resume)
        write_meta(run_dir, meta)

    def next_call(self) -> dict[str, Any] | None:
        """Start the next optimise() call; its saved record when resuming (None: run it from scratch)."""
        self.call += 1
        if self.call >= len(self.replay):
            return None
        self.records[self.call:] = [self.replay[self.call]]  # kept in the new checkpoint too
        return self.replay[self.call]

    def due(self, next_iter: int) -> bool:
        return self.every > 0 and next_iter % self.every == 0

    def save(self, record: dict[str, Any]) -> None:
        """Record the current call's state (replacing its previous record) and write the file."""
        self.records[self.call:] = [record]
        with atomic_path(self.path) as tmp:
            torch.save({"format": FORMAT, "records": self.records}, tmp)


ACTIVE: Checkpoint | None = None


def start(run_dir: Path, every: int, meta: dict[str, Any], resume: str | Path | None = None) -> Checkpoint | None:
    """Make the run's checkpoint active (None when every == 0 and nothing is resumed)."""
    global ACTIVE
    ACTIVE = Checkpoint(run_dir, every, meta, resume) if every > 0 or resume else None
    return ACTIVE


def stop() -> None:
    global ACTIVE
    ACTIVE = None
