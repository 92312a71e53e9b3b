"""docs/check_snippets.py: how it reads pages, and the marks the pages carry."""

import glob
import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_snippets", os.path.join(ROOT, "docs", "check_snippets.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


PAGE = """# A page

```python
model = ...  # any classifier
images, labels = ...
phi = run(model)
```

<!-- snippet: skip — needs a GPU -->
```python
model.cuda()
```

```bash
captum-iaside
```
"""


def test_snippets_are_found_with_their_lines_and_skip_reasons(checker):
    found = checker.snippets("page.md", PAGE)
    assert [(s.line, s.skip) for s in found] == [(3, None), (10, "needs a GPU")]


def test_placeholders_keep_the_stand_ins_and_nothing_else_changes(checker):
    code = checker.snippets("page.md", PAGE)[0].code
    assert checker.runnable(code) == "pass\npass\nphi = run(model)\n"


def test_a_failing_snippet_fails_the_check(checker, tmp_path):
    page = tmp_path / "bad.md"
    page.write_text("```python\nundefined_name + 1\n```\n\n```python\nx = 1\n```\n")
    assert checker.main([str(page)]) == 1
    page.write_text("```python\nx = 1\n```\n")
    assert checker.main([str(page)]) == 0


def test_every_skipped_snippet_says_why():
    pages = [os.path.join(ROOT, "README.md"), *glob.glob(os.path.join(ROOT, "docs", "*.md"))]
    for page in pages:
        for line in open(page):
            if "snippet:" in line:
                assert "skip —" in line and len(line.split("skip —")[1].split()) >= 3, (page, line)
