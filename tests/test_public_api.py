import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import captum_iaside

ROOT = Path(__file__).resolve().parents[1]


def documented_names():
    text = (ROOT / "docs" / "api.md").read_text()
    names = []
    for directive, target, members in re.findall(
        r"\.\. (autoclass|autofunction|autodata|automodule):: (\S+)(?:\n\s+:members: ([^\n]+))?", text
    ):
        if directive == "automodule":
            names += [f"{target}.{m.strip()}" for m in (members or "").split(",") if m.strip()]
        else:
            names.append(target)
            names += [f"{target}.{m.strip()}" for m in (members or "").split(",") if m.strip()]
    return names


@pytest.mark.parametrize("name", documented_names())
def test_every_documented_name_is_importable(name):
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):  # the longest importable module prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return
    raise AssertionError(f"{name} cannot be imported")


def test_the_package_exports_what_it_lists_and_loads_lazily():
    for name in captum_iaside.__all__:
        assert getattr(captum_iaside, name) is not None
    assert set(captum_iaside.__all__) <= set(dir(captum_iaside))
    with pytest.raises(AttributeError):
        captum_iaside.nothing  # noqa: B018
    code = "import sys, captum_iaside; assert 'torch' not in sys.modules; print(captum_iaside.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == captum_iaside.__version__


def test_the_version_is_defined_once():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "captum_iaside.__version__"}
