"""A folder or a glob of photos as one command: every image goes through the script's own one-image run,
each into its own run folder inside one batch folder, with a progress bar over the images and a
summary.csv (image, status, seconds, metrics, run folder) rewritten after every image. A bad image is
reported in its row and skipped: it never ends the batch. Under torchrun the images are dealt out to the
processes (image i to rank i mod N) and rank 0 writes the summary."""
from __future__ import annotations

import csv
import glob
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from utils.atomic import atomic_path
from utils.config import Config
from utils.errors import UserError
from utils.run_folder import RunResult

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
# files read beside an image (its hints, truth, clean version), never images to process themselves
COMPANIONS = ("_fg_hint", "_bg_hint", "_mg_hint", "_truth", "_gt", "_hint", "_layer1", "_layer2")


def is_batch(input_: str) -> bool:
    """Whether --input names a folder or a glob pattern rather than one file."""
    return bool(input_) and (Path(input_).is_dir() or any(c in input_ for c in "*?["))


def batch_images(input_: str) -> list[Path]:
    """The images a folder or glob names, sorted, without the companion files found beside them."""
    path = Path(input_)
    found = sorted(path.iterdir()) if path.is_dir() else sorted(Path(p) for p in glob.glob(input_))
    images = [p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
              and not p.stem.endswith(COMPANIONS)]
    if not images:
        raise UserError(f"--input={input_}: no images there (PNG, JPEG, TIFF, BMP, WebP); give a folder of "
                        "photos, a pattern such as 'photos/*.jpg', or one image")
    return images


def check_batch(input_: str, one_file: dict[str, bool], companions: str) -> None:
    """For a folder or pattern `input_`: it must hold images, and no setting that names one file may be
    given (`one_file`: setting -> whether it is set); `companions` says what to put beside each image."""
    batch_images(input_)  # a folder or pattern without images is the first thing to say
    given = [k for k, on in one_file.items() if on]
    if given:
        raise UserError(f"--input={input_} is a folder or pattern: {', '.join(given)} names one file or run; put "
                        f"{companions} beside each image X")


def run_batch(cfg: Config, name: str, run_one: Callable[[Config], RunResult],
              metrics: Callable[[dict[str, Any]], dict[str, Any]]) -> RunResult:
    """Run `run_one` on every image of cfg.input (a folder or glob), `metrics` picking each run's summary
    columns from its results; returns the batch folder and {"images": rows} (rows on rank 0 only)."""
    from utils import distributed
    from utils.device import pick_device
    from utils.run_folder import new_run_dir
    from utils.signals import STOP
    images = batch_images(cfg.input)
    rank, size, local = distributed.world()
    device = cfg.device
    if size > 1 and device in ("auto", "cuda"):
        import torch
        if torch.cuda.is_available():
            device = f"cuda:{local}"
    distributed.init(pick_device(device))
    batch_dir = distributed.broadcast(new_run_dir(cfg.output_dir, f"{name}_batch") if rank == 0 else None)
    mine = images[rank::size]
    rows: list[dict[str, Any]] = []
    bar = tqdm(mine, desc=f"{name} batch", unit="image", disable=not cfg.progress or rank != 0)
    for image in bar:
        if STOP:
            rows.append({"image": str(image), "status": "not run (stopped)"})
            continue
        start = time.time()
        try:
            result = run_one(cfg.replace(input=str(image), output_dir=str(batch_dir), progress=False,
                                         device=device))
            row = {"image": str(image), "status": "interrupted" if result.interrupted else "ok",
                   "seconds": round(time.time() - start, 2), **metrics(result.results),
                   "run": result.run_dir.name}
        except UserError as e:  # a bad image: its row says why, the batch goes on
            row = {"image": str(image), "status": f"error: {e}", "seconds": round(time.time() - start, 2)}
        except Exception as e:  # noqa: BLE001 - one image's failure must not end the batch
            row = {"image": str(image), "status": f"failed: {type(e).__name__}: {e}",
                   "seconds": round(time.time() - start, 2)}
        rows.append(row)
        if row["status"] != "ok":
            tqdm.write(f"{image}: {row['status']}")
        if size == 1:
            write_summary(batch_dir / "summary.csv", rows)
    if size > 1:
        gathered = distributed.gather(rows)
        rows = [r for part in gathered for r in part] if gathered is not None else []
        order = {str(p): i for i, p in enumerate(images)}
        rows.sort(key=lambda r: order[r["image"]])
        if rank == 0:
            write_summary(batch_dir / "summary.csv", rows)
        distributed.finish()
    if rank == 0:
        ok = sum(r["status"] == "ok" for r in rows)
        print(f"{ok} of {len(images)} images done; summary: {batch_dir / 'summary.csv'}")
        print(batch_dir)
    return RunResult(batch_dir, {"images": rows})


def write_summary(path: Path, rows: list[dict[str, Any]]) -> None:
    """summary.csv: one row per image, the columns of every row (metrics a run lacks left empty)."""
    columns = list(dict.fromkeys(k for r in rows for k in ("image", "status", "seconds", *r)))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)
