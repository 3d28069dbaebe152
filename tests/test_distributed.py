"""torchrun helpers with two real gloo processes: files reach rank 0 whether or not it sees the other's disk."""
import os
from pathlib import Path

import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, folder: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=2)
    from utils import distributed
    d = Path(folder)
    mine = d / f"rank{rank}.bin"
    mine.write_bytes(bytes(range(256)) * (1000 + rank))  # more than one block when CHUNK is small
    distributed.CHUNK = 4096
    seen = distributed.files_to_rank0([mine])  # one machine: rank 0 sees rank 1's file where it lies
    if rank == 0:
        (d / "seen.txt").write_text("\n".join(map(str, seen)))
    if rank == 1:  # a rank on another machine sends its file over the process group
        distributed._send(mine)
    else:
        distributed._receive(d / "received.bin", (d / "rank1.bin").stat().st_size, src=1)
    dist.barrier()
    dist.destroy_process_group()


def test_files_reach_rank_0_where_they_lie_or_over_the_process_group(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path),), nprocs=2, join=True)
    assert (tmp_path / "seen.txt").read_text().splitlines() == [str(tmp_path / "rank0.bin"),
                                                                  str(tmp_path / "rank1.bin")]
    assert (tmp_path / "received.bin").read_bytes() == (tmp_path / "rank1.bin").read_bytes()
