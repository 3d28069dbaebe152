"""torchrun support: one process per rank (gloo on CPU, NCCL on GPUs), contiguous chunks of work, and
results gathered on rank 0. Without torchrun everything degrades to a single process."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from utils.atomic import atomic_path

CHUNK = 4 << 20  # bytes per message when a file is sent to rank 0


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def init(device: torch.device) -> None:
    """Join the process group when launched by torchrun with more than one process."""
    if world()[1] > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def broadcast(obj: Any) -> Any:
    """Rank 0's `obj` on every rank."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> list[Any] | None:
    """Every rank's `obj`, in rank order, on rank 0 (None elsewhere). Works across nodes: no shared disk."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def files_to_rank0(paths: list[Path]) -> list[Path]:
    """Every rank's files (`paths`: this rank's), in rank order, readable on rank 0: files rank 0 already
    sees (one machine, or a shared disk) are used where they lie; the others are sent to it over the
    process group, a few MB at a time, into the same paths on rank 0's disk. Returns the list on rank 0
    ([] elsewhere)."""
    if not dist.is_initialized():
        return list(paths)
    me = (socket.gethostname(), [(str(p), p.stat().st_size) for p in paths])
    everyone: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, me)
    rank, host = dist.get_rank(), socket.gethostname()
    result: list[Path] = []
    for r, (their_host, files) in enumerate(everyone):
        for path, size in files:
            seen = their_host == host or (Path(path).is_file() and Path(path).stat().st_size == size)
            visible = broadcast(seen if rank == 0 else None)
            if r == 0 or visible:
                result.append(Path(path))
                continue
            if rank == r:
                _send(Path(path))
            elif rank == 0:
                _receive(Path(path), size, r)
                result.append(Path(path))
    return result if rank == 0 else []


def _send(path: Path) -> None:
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            dist.send(torch.frombuffer(bytearray(block), dtype=torch.uint8), dst=0)


def _receive(path: Path, size: int, src: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        left = size
        while left > 0:
            block = torch.empty(min(CHUNK, left), dtype=torch.uint8)
            dist.recv(block, src=src)
            fh.write(block.numpy().tobytes())
            left -= block.numel()


def finish() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
