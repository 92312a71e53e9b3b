r"""Execute every Python snippet of the README and the documentation, so that none fails as written.

``python docs/check_snippets.py [PAGE.md ...]`` (default: ``README.md`` and ``docs/*.md``) runs the
```` ```python ```` blocks of each page in order, in one namespace per page (a later snippet may use what an
earlier one defined, as a reader's session would), in a fresh process and a temporary folder. The
namespace starts with the stand-ins of ``docs/snippet_setup.py``; a placeholder line of a snippet,
``NAME = ...`` (Python's Ellipsis, possibly with a comment), keeps the stand-in. A snippet that cannot run
here is marked on the line before its fence with ``<!-- snippet: skip — REASON -->`` (it needs the
internet, a GPU, torchrun or a data set of the reader's) and is reported as skipped with its reason. One
line per snippet is printed; the exit status is 1 if any failed.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_SKIP = re.compile(r"<!--\s*snippet:\s*skip\s*[—-]\s*(.+?)\s*-->\s*$")
_PLACEHOLDER = re.compile(r"^(\s*)[\w, ]+ = \.\.\.\s*(#.*)?$", re.M)


@dataclass
class Snippet:
    page: str
    line: int
    code: str
    skip: str | None  # the reason, for a snippet that cannot run here


def snippets(page: str, text: str) -> list[Snippet]:
    r"""The Python snippets of a page, with their line numbers and skip reasons."""
    out = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = _SKIP.search(before)
        out.append(Snippet(page, line, m.group(1), skip.group(1) if skip else None))
    return out


def runnable(code: str) -> str:
    r"""The snippet with its placeholder lines (``NAME = ...``) replaced by ``pass``, keeping the stand-ins."""
    return _PLACEHOLDER.sub(lambda m: f"{m.group(1)}pass", code)


def run_page(page: str) -> int:
    r"""Run one page's snippets in this process (called in a fresh one by :func:`main`)."""
    import matplotlib.pyplot as plt

    sys.path.insert(0, HERE)
    namespace: dict = {}
    exec(compile(open(os.path.join(HERE, "snippet_setup.py")).read(), "snippet_setup.py", "exec"), namespace)
    failed = 0
    rel = os.path.relpath(page, ROOT)
    for s in snippets(rel, open(page).read()):
        if s.skip:
            print(f"{rel}:{s.line}: skipped ({s.skip})", flush=True)
            continue
        try:
            exec(compile(runnable(s.code), f"{rel}:{s.line}", "exec"), namespace)
            print(f"{rel}:{s.line}: ok", flush=True)
        except Exception as exc:
            failed += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(
                f"{rel}:{s.line}: FAILED {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})", flush=True
            )
        plt.close("all")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--page"]:
        return run_page(argv[1])
    pages = argv or [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(HERE, "*.md")))]
    status = 0
    for page in pages:
        if not snippets(page, open(page).read()):
            continue
        with tempfile.TemporaryDirectory() as tmp:  # checkpoints and pictures land here
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--page", os.path.abspath(page)], cwd=tmp)
        status |= done.returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
