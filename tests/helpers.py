"""Shared test helpers: run a script in-process or as a command."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_script(name: str, args: list[str]) -> Path:
    """Run an experiment script's main() in this process (fresh module, so constants are the file's)
    and return the run folder it printed last."""
    module = importlib.import_module(name)
    module = importlib.reload(module)
    args = on_cpu(args)
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert module.main(args) == 0
    return Path(out.getvalue().strip().splitlines()[-1])


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
    """Run a script as its command-line wrapper does (utils.run.cli), in this process: returns
    (exit status, stdout, stderr). Fast stand-in for a subprocess when a test needs the exit status."""
    import contextlib
    import io

    from utils.run import cli
    module = importlib.reload(importlib.import_module(name))
    args = on_cpu(args)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli(module.main, args)
        except SystemExit as e:
            return int(e.code or 0), out.getvalue(), err.getvalue()
    raise AssertionError("cli() always exits")
