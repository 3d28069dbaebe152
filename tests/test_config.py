import pytest

from utils.config import configure, parse_overrides, read_settings
from utils.errors import UserError

SCRIPT = '''"""demo"""
ALPHA = 3  # an integer
BETA = 0.5  # a float
NAME = "x"  # a string
FLAG = True  # a switch
SIZES = [8, 16]  # a list
PRESET = ""  # presets
'''


@pytest.fixture
def namespace(tmp_path):
    path = tmp_path / "demo.py"
    path.write_text(SCRIPT)
    ns: dict = {"__file__": str(path), "__doc__": "demo"}
    exec(compile(SCRIPT, str(path), "exec"), ns)
    return ns


def test_settings_are_read_with_their_comments(namespace):
    s = {x.name: x for x in read_settings(namespace["__file__"])}
    assert s["alpha"].default == 3 and s["alpha"].comment == "an integer"
    assert s["sizes"].default == [8, 16]


def test_overrides_are_typed_like_the_defaults(namespace):
    cfg = configure(namespace, ["--alpha=7", "--beta=1e-3", "--name=y", "--flag=false", "--sizes=[4,8,16]"])
    assert cfg.as_dict() == {"alpha": 7, "beta": 0.001, "name": "y", "flag": False, "sizes": [4, 8, 16],
                             "preset": ""}


def test_configure_leaves_the_script_as_it_is(namespace):
    configure(namespace, ["--alpha=7"])
    assert namespace["ALPHA"] == 3 and configure(namespace, []).alpha == 3


def test_preset_applies_first_and_explicit_overrides_win(namespace):
    cfg = configure(namespace, ["--preset=big", "--beta=2"], {"big": {"alpha": 100, "beta": 9.0}})
    assert cfg.alpha == 100 and cfg.beta == 2.0


def test_unknown_setting_names_the_closest_one(namespace):
    with pytest.raises(UserError, match="did you mean --alpha"):
        parse_overrides(["--alpah=3"], read_settings(namespace["__file__"]))


def test_malformed_values_are_clear_errors(namespace):
    settings = read_settings(namespace["__file__"])
    with pytest.raises(UserError, match="expected an integer"):
        parse_overrides(["--alpha=three"], settings)
    with pytest.raises(UserError, match="needs a value"):
        parse_overrides(["--alpha"], settings)
    with pytest.raises(UserError, match="--name=value"):
        parse_overrides(["alpha=3"], settings)


def test_help_lists_every_setting(namespace, capsys):
    with pytest.raises(SystemExit) as e:
        configure(namespace, ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ("--alpha", "--beta", "--name", "--flag", "--sizes", "an integer"):
        assert name in out


def test_settings_classes_take_every_script_setting_from_the_script_alone():
    """One definition of each setting: a field of a net/ settings class that is also a script setting has
    no default of its own (it could drift from the script's), and settings_from fills it."""
    import dataclasses

    import dehazing_system
    import segmentation
    from net.dehaze import DehazeSettings
    from net.segment import SegmentSettings
    from utils.config import defaults, settings_from
    for script, cls in ((segmentation, SegmentSettings), (dehazing_system, DehazeSettings)):
        names = {s.name for s in read_settings(script.__file__)}
        for f in dataclasses.fields(cls):
            if f.name in names:
                assert f.default is dataclasses.MISSING, f"{cls.__name__}.{f.name} has a second default"
        cfg = defaults(vars(script))
        filled = settings_from(cls, cfg, **({"iters": 5} if cls is DehazeSettings else {}))
        for f in dataclasses.fields(cls):
            if f.name in names and f.name != "iters":
                value = getattr(cfg, f.name)
                assert getattr(filled, f.name) == (tuple(value) if isinstance(value, list) else value), f.name


def test_ci_installs_the_dev_tools_pinned_in_pyproject():
    import re
    import tomllib

    from helpers import ROOT
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    pins = set(project["optional-dependencies"]["dev"])
    assert pins and all("==" in p for p in pins)
    assert set(re.findall(r'"(\w+==[\d.]+)"', (ROOT / ".ci" / "run").read_text())) == pins
    assert "pillow" in (ROOT / "requirements.txt").read_text().lower()  # imported (PIL), so declared
