r"""Check the built HTML documentation for problems that Sphinx does not report.

``python docs/check_rendered.py docs/_build/html`` reads every HTML page of the built site and prints one
line per problem, ``page: problem``, then exits with status 1 if there was any (0 otherwise):

- broken internal links: an ``href`` to a local page or file that does not exist, or to an ``#anchor``
  that no element of the target page carries (external ``http(s)``, ``mailto`` and other schemes are not
  followed);
- missing images: an ``img`` whose ``src`` (or ``srcset``) is a local file that does not exist;
- pages without a title: an empty ``<title>`` (or Sphinx's ``<no title>``), or a main content without
  an ``h1``;
- notebook outputs with warnings or tracebacks: myst-nb renders each cell's outputs inside
  ``div.cell_output``, a stream on stderr as ``div.output.stderr`` and an error as
  ``div.output.traceback``; any stderr or traceback output is reported, and so is any output whose text
  holds ``Traceback`` or ``Warning:``.

The pages of Sphinx's own machinery are read for their links but not held to the title rule when they
have no document title by design (``search.html``, whose results are filled in by JavaScript), and the
copied ``_static``, ``_sources`` and ``_images`` folders are link targets only. Only the standard
library is used.
"""

from __future__ import annotations

import os
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

#: folders of the build that hold files, not pages
ASSET_DIRS = ("_static", "_sources", "_images", "_downloads")
#: pages of Sphinx's machinery that are not held to the title rule
MACHINERY_PAGES = ("search.html",)
#: elements that never have content, so never get a closing tag
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
#: text markers of a warning or an error in a notebook output
OUTPUT_MARKERS = ("Traceback", "Warning:")


class _Page(HTMLParser):
    """One pass over a page: its ids, links, images, title, main heading and notebook outputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, int]] = []  # (href, line)
        self.images: list[tuple[str, int]] = []  # (src, line)
        self.title: str | None = None
        self.has_main = False
        self.h1_in_main = False
        self.h1_anywhere = False
        self.outputs: list[dict] = []  # notebook outputs: kinds, text, line
        self._stack: list[tuple[str, set[str], bool]] = []  # (tag, classes, opens main content)
        self._in_head_title = False
        self._in_body = False
        self._title_parts: list[str] = []
        self._output: dict | None = None
        self._output_depth = 0
        self._main_depth = 0

    # -- the tree ------------------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        classes = set(a.get("class", "").split())
        line = self.getpos()[0]
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "body":
            self._in_body = True
        if tag == "title" and not self._in_body and self.title is None:
            self._in_head_title = True
        if tag in ("a", "area") and "href" in a:
            self.links.append((a["href"], line))
        if tag == "img":
            if a.get("src"):
                self.images.append((a["src"], line))
            for candidate in a.get("srcset", "").split(","):
                if candidate.strip():
                    self.images.append((candidate.split()[0], line))
        if tag == "h1":
            self.h1_anywhere = True
            if self._main_depth:
                self.h1_in_main = True
        opens_main = tag == "main" or a.get("role") == "main" or "body" in classes and tag == "div"
        if opens_main:
            self.has_main = True
            self._main_depth += 1
        # a notebook output: myst-nb's div.output (div.output.stderr, div.output.traceback, ...)
        if self._output is None and tag == "div" and "output" in classes:
            self._output = {"kinds": classes & {"stderr", "traceback", "error"}, "text": [], "line": line}
            self._output_depth = 1
        elif self._output is not None and tag not in VOID:
            self._output_depth += 1
        if tag not in VOID:
            self._stack.append((tag, classes, opens_main))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_head_title:
            self._in_head_title = False
            self.title = "".join(self._title_parts).strip()
        if tag in VOID:
            return
        # pop to the matching open tag (HTML in the wild is not always balanced)
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                for _, _, opened_main in self._stack[i:]:
                    if opened_main:
                        self._main_depth -= 1
                    if self._output is not None:
                        self._output_depth -= 1
                        if self._output_depth == 0:
                            self._output["text"] = "".join(self._output["text"])
                            self.outputs.append(self._output)
                            self._output = None
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._in_head_title:
            self._title_parts.append(data)
        if self._output is not None:
            self._output["text"].append(data)


def _parse(path: str) -> _Page:
    page = _Page()
    with open(path, encoding="utf-8", errors="replace") as fh:
        page.feed(fh.read())
    page.close()
    return page


def _pages(root: str) -> list[str]:
    """Every .html file of the build outside the asset folders, as a path relative to root, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in ASSET_DIRS]
        found += [os.path.normpath(os.path.join(rel, f)) for f in files if f.endswith(".html")]
    return sorted(found)


def _first_line(text: str, limit: int = 120) -> str:
    for line in text.splitlines():
        if line.strip():
            line = " ".join(line.split())
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _target(url: str, page: str, root: str) -> tuple[str | None, str]:
    """Where ``url`` on ``page`` leads: (a path relative to root, or None for a non-local URL; the fragment)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None, ""
    path = unquote(parts.path)
    if not path:
        return page, unquote(parts.fragment)
    base = "" if path.startswith("/") else os.path.dirname(page)
    target = os.path.normpath(os.path.join(base, path.lstrip("/")))
    if path.endswith("/") or os.path.isdir(os.path.join(root, target)):
        target = os.path.join(target, "index.html")
    return target, unquote(parts.fragment)


def check(root: str) -> tuple[int, list[str]]:
    """Check the site built under ``root``.

    Args:
        root (str): The output folder of ``sphinx-build -b html``.

    Returns:
        tuple: ``(n_pages, problems)``, the number of pages checked and one ``"page: problem"`` string per
        problem found, in page order.
    """
    root = os.path.abspath(root)
    pages = _pages(root)
    parsed: dict[str, _Page] = {}

    def page(rel: str) -> _Page:
        if rel not in parsed:
            parsed[rel] = _parse(os.path.join(root, rel))
        return parsed[rel]

    problems: list[str] = []
    for rel in pages:
        p = page(rel)
        where = rel.replace(os.sep, "/")

        # links
        for href, line in p.links:
            target, fragment = _target(href, rel, root)
            if target is None:
                continue
            if target.startswith(".."):
                problems.append(f"{where}:{line}: link {href!r} leaves the site")
                continue
            full = os.path.join(root, target)
            if not os.path.isfile(full):
                problems.append(f"{where}:{line}: broken link {href!r}: {target.replace(os.sep, '/')} does not exist")
                continue
            if fragment and target.endswith(".html") and target.split(os.sep)[0] not in ASSET_DIRS:
                if fragment not in page(target).ids:
                    problems.append(
                        f"{where}:{line}: broken link {href!r}: no anchor #{fragment} in {target.replace(os.sep, '/')}"
                    )
        # images
        for src, line in p.images:
            target, _ = _target(src, rel, root)
            if target is None or src.startswith("data:"):
                continue
            if not os.path.isfile(os.path.join(root, target)):
                problems.append(f"{where}:{line}: missing image {src!r}: {target.replace(os.sep, '/')} does not exist")
        # title
        if os.path.basename(rel) not in MACHINERY_PAGES or os.path.dirname(rel):
            title = p.title or ""
            if not title or title.startswith("<no title>"):
                problems.append(f"{where}: page without a title (<title> is {title!r})")
            elif not (p.h1_in_main if p.has_main else p.h1_anywhere):
                problems.append(f"{where}: page without a title (no h1 in its main content)")
        # notebook outputs
        for out in p.outputs:
            text = out["text"]
            what = sorted(out["kinds"]) + [m.rstrip(":") for m in OUTPUT_MARKERS if m in text]
            if what:
                kinds = ", ".join(dict.fromkeys(what))
                problems.append(f"{where}:{out['line']}: notebook output with {kinds}: {_first_line(text)}")
    return len(pages), problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python docs/check_rendered.py BUILD_DIR   (e.g. docs/_build/html)", file=sys.stderr)
        return 2
    root = argv[0]
    if not os.path.isfile(os.path.join(root, "index.html")):
        print(f"{root}: no index.html, build the documentation first", file=sys.stderr)
        return 2
    n, problems = check(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"rendered docs: {n} pages checked, {len(problems)} problem(s)")
        return 1
    print(f"rendered docs: {n} pages checked, no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
