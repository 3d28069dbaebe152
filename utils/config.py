"""nanoGPT-style configuration: an experiment script's UPPER_CASE constants (each with a comment) are
its settings; `--lower_case=value` on the command line overrides one, `--help` lists them all.

The constants are the one place a default lives. `configure` reads them and returns a `Config` (the
script's module is never changed), and the settings classes of `net/` are filled from that Config by
field name (`settings_from`), so no second default can drift from the first."""
from __future__ import annotations

import ast
import dataclasses
import difflib
import io
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from utils.errors import UserError

FLAGS = {"help": "show this list and exit", "debug": "show full tracebacks instead of one-line errors"}


@dataclass(frozen=True)
class Setting:
    name: str  # lower_case name used on the command line
    default: Any
    comment: str


class Config(SimpleNamespace):
    """A run's settings: attribute access (`cfg.iters`), `as_dict()` for results.json, `replace(...)`
    for a changed copy."""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def replace(self, **changes: Any) -> Config:
        unknown = set(changes) - set(vars(self))
        if unknown:
            raise KeyError(f"not settings: {sorted(unknown)}")
        return Config(**{**vars(self), **changes})


def read_settings(script: str | Path) -> list[Setting]:
    """The module-level `NAME = literal  # comment` lines of `script`, in order."""
    source = Path(script).read_text()
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    settings = []
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue  # computed constants are not settings
            if isinstance(value, dict):
                continue  # tables (presets, samples) are not settings
            settings.append(Setting(node.targets[0].id.lower(), value, comments.get(node.lineno, "")))
    return settings


def _parse_value(name: str, raw: str, default: Any) -> Any:
    def bad(kind: str) -> UserError:
        return UserError(f"--{name}={raw}: expected {kind} (default is {default!r})")

    if isinstance(default, bool):
        low = raw.lower()
        if low in ("1", "true", "yes", "on", ""):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise bad("true or false")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise bad("an integer") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise bad("a number") from None
    if isinstance(default, (list, tuple)):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise bad("a list such as [8,16,32]") from None
        if not isinstance(value, (list, tuple)):
            raise bad("a list such as [8,16,32]")
        return type(default)(value)
    return raw


def usage(script: str | Path, doc: str | None = None) -> str:
    settings = read_settings(script)
    width = max([len(s.name) for s in settings] + [8]) + 2
    lines = [(doc or "").strip(), "", f"usage: python {Path(script).name} [--name=value ...]", "", "settings:"]
    for s in settings:
        lines.append(f"  --{s.name:<{width}} {s.comment} (default: {s.default!r})")
    lines += ["", "flags:"] + [f"  --{k:<{width}} {v}" for k, v in FLAGS.items()]
    return "\n".join(lines).strip() + "\n"


def parse_overrides(argv: list[str], settings: list[Setting]) -> dict[str, Any]:
    """Turn `--name=value` arguments into {name: typed value}; unknown names suggest the closest one."""
    known = {s.name: s for s in settings}
    out: dict[str, Any] = {}
    for arg in argv:
        if not arg.startswith("--"):
            raise UserError(f"unexpected argument {arg!r}: settings are given as --name=value (see --help)")
        name, eq, raw = arg[2:].partition("=")
        name = name.replace("-", "_").lower()
        if name in FLAGS:
            continue
        if name not in known:
            close = difflib.get_close_matches(name, list(known) + list(FLAGS), n=1, cutoff=0.5)
            hint = f"; did you mean --{close[0]}?" if close else "; see --help for the list"
            raise UserError(f"unknown setting --{name}{hint}")
        default = known[name].default
        if not eq and not isinstance(default, bool):
            raise UserError(f"--{name} needs a value: --{name}=VALUE (default is {default!r})")
        out[name] = _parse_value(name, raw, default)
    return out


def configure(namespace: dict[str, Any], argv: list[str] | None = None,
              presets: dict[str, dict[str, Any]] | None = None) -> Config:
    """The script's settings (its UPPER_CASE constants, from `namespace`, its globals()) with a preset and
    the command-line overrides applied; the script itself is left as it is.

    A `--preset=NAME` setting first applies `presets[NAME]`; explicit overrides win over the preset.
    """
    argv = sys.argv[1:] if argv is None else argv
    script = namespace["__file__"]
    if any(a in ("-h", "--help") for a in argv):
        print(usage(script, namespace.get("__doc__")))
        raise SystemExit(0)
    settings = read_settings(script)
    values = {s.name: namespace[s.name.upper()] for s in settings}
    overrides = parse_overrides(argv, settings)
    if overrides.get("resume"):
        return Config(**_resumed(Path(script).name, values, overrides))
    preset = overrides.get("preset", values.get("preset"))
    if preset:
        if not presets or preset not in presets:
            raise UserError(f"unknown preset {preset!r}; choose one of {sorted(presets or {})}")
        values.update(presets[preset])
    values.update(overrides)
    return Config(**values)


def defaults(namespace: dict[str, Any], **changes: Any) -> Config:
    """A script's default settings (with `changes`), as a run without command-line settings gets them."""
    return configure(namespace, []).replace(**changes)


# settings a resumed run may change: they do not affect its result
RESUME_MAY_CHANGE = {"resume", "checkpoint_every", "progress", "device", "output_dir", "cuda_graph", "threads"}


def _resumed(script: str, values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """--resume=RUN_DIR: the settings the checkpointed run was started with, plus overrides that do not
    change its result."""
    from utils.checkpoint import read_meta
    run_dir = overrides["resume"]
    meta = read_meta(run_dir)
    if meta.get("script") != script:
        raise UserError(f"--resume={run_dir} is a run of {meta.get('script')}; resume it with that script")
    stored = meta["config"]
    for name, value in overrides.items():
        if name not in RESUME_MAY_CHANGE and value != stored.get(name):
            raise UserError(f"--{name} cannot change when resuming (the run used {stored.get(name)!r}); "
                            "start a new run instead")
    for k, v in {**stored, **overrides}.items():
        if k in values:
            values[k] = type(values[k])(v) if isinstance(v, list) else v
    return values


def settings_from(cls: type, cfg: Config, **extra: Any) -> Any:
    """An instance of the settings dataclass `cls` (of net/) filled from a script's Config: each field
    named like a setting takes the setting's value (lists become tuples); `extra` gives or overrides
    the others. A field with no value and no default is a programming error, reported as such."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in extra:
            values[f.name] = extra[f.name]
        elif hasattr(cfg, f.name):
            v = getattr(cfg, f.name)
            values[f.name] = tuple(v) if isinstance(v, list) else v
    unknown = set(extra) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
    return cls(**values)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """A setting that takes one of a few words: anything else is a one-line error listing them."""
    if value not in choices:
        raise UserError(f"--{name}={value}: use {', '.join(choices[:-1])} or {choices[-1]}")
