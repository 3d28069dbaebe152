"""Shared test helpers: run a script in-process or as a command."""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# for tests that compare two seeded CPU runs: they repeat exactly at one thread count, and --threads=0 follows
# the runs alive on the machine (a run started beside the suite once changed a resumed run's float sums)
PINNED = ["--threads=1"]


def run_script(name: str, args: list[str]) -> Path:
    """Run an experiment script's main() in this process (its printing silenced) and return its run folder."""
    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(name).main(on_cpu(args)).run_dir


def on_cpu(args: list[str]) -> list[str]:
    """The suite pins CPU results (exact repeats, resumes): runs use the CPU unless a test names a device."""
    return args if any(a.startswith("--device") for a in args) or any(a.startswith("--resume") for a in args) \
        else [*args, "--device=cpu"]


def run_command(args: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          **kw)


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def run_cli(name: str, args: list[str]) -> tuple[int, str, str]:
    """Run a script as its command-line wrapper does (utils.cli.cli), in this process: returns
    (exit status, stdout, stderr). Fast stand-in for a subprocess when a test needs the exit status."""
    from utils.cli import cli
    module = importlib.import_module(name)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli(module.main, on_cpu(args))
        except SystemExit as e:
            return int(e.code or 0), out.getvalue(), err.getvalue()
    raise AssertionError("cli() always exits")


def needs(*modules: str) -> None:
    """Skip a test whose optional packages are missing (the benchmarks' requirements-bench.txt, the page's
    requirements-app.txt) - except under CI=true, where .ci/run installs them and a missing one fails."""
    import importlib.util
    import os

    import pytest
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        message = f"needs {', '.join(missing)} (pip install -r requirements-bench.txt / requirements-app.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
