"""The layout is the pipeline: each stage imports only from the stages before it (docs/architecture.md)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "captum_iaside"

#: The stages in the order data flow through them; a module may import from its own stage and earlier ones.
STAGES = [
    "_utils",
    "errors",
    "execution",
    "game",
    "estimators",
    "results",
    "global_run",
    "attr",
    "robustness",
    "visualization",
    "report",
    "models",
    "dynamics",
    "cli",
]
#: The one import against the flow, made lazily: ``SpectralImportance.plot()`` draws with the plots.
ALLOWED_BACKWARD = {("captum_iaside.results.importance", "captum_iaside.visualization.importance")}


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "captum_iaside":
        return None
    return "cli" if parts[1] == "__main__" else parts[1]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        yield ".".join(rel.parts).removesuffix(".__init__"), path


def imports_of(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_every_subpackage_and_top_level_module_is_a_stage():
    found = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    found |= {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert found == set(STAGES)


@pytest.mark.parametrize("module, path", list(modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_no_module_imports_from_a_later_stage(module, path):
    own = stage_of(module)
    if own is None:  # the package itself (lazy exports) and __main__
        return
    for imported in imports_of(path):
        other = stage_of(imported)
        if other is None or (module, imported) in ALLOWED_BACKWARD:
            continue
        assert STAGES.index(other) <= STAGES.index(own), f"{module} imports {imported}, a later stage"


@pytest.mark.parametrize("stage", [s for s in STAGES if (PACKAGE / s).is_dir()])
def test_each_subpackage_says_why_it_is_a_group_and_what_it_exports(stage):
    init = PACKAGE / stage / "__init__.py"
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"{stage}/__init__.py has no docstring"
    if stage != "_utils":
        names = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"]
        assert names, f"{stage}/__init__.py has no __all__"


def test_the_architecture_page_draws_every_stage_in_order():
    text = (ROOT / "docs" / "architecture.md").read_text()
    diagram = re.search(r"```text\n(.*?)```", text, re.S)
    assert diagram, "docs/architecture.md has no diagram"
    drawn = re.findall(r"^(\w+)  ", diagram.group(1), re.M)
    assert drawn == STAGES


def test_the_architecture_page_names_every_module_of_each_stage():
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", text, re.M))
    for stage in STAGES:
        if not (PACKAGE / stage).is_dir():
            continue
        files = {p.stem for p in (PACKAGE / stage).glob("*.py") if p.stem != "__init__"}
        named = set(re.findall(r"`(\w+)`", rows.get(stage, "")))
        assert files == named, f"docs/architecture.md's row of {stage}: missing {files - named}, extra {named - files}"
