"""docs/check_rendered.py on a tiny hand-written site: what it flags and what it leaves alone."""

import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location(
        "check_rendered", os.path.join(HERE, "..", "docs", "check_rendered.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page(title, body, h1=True):
    heading = f"<h1>{title}</h1>" if h1 and title else ""
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f'<svg><symbol id="svg-x"><title>Menu</title></symbol></svg>'
        f'<article role="main">{heading}{body}</article></body></html>'
    )


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def good_site(root):
    write(
        root, "index.html", page("Home", '<a href="guide.html#usage">usage</a> <a href="https://x.org/a.html#b">x</a>')
    )
    write(
        root,
        "guide.html",
        page(
            "Guide",
            '<section id="usage"><a href="#usage">here</a> <a href="index.html">home</a>'
            '<a href="_modules/pkg/mod.html#Thing">[source]</a> <a href="mailto:a@b.c">mail</a>'
            '<img src="_images/fig.png"> <a href="_static/style.css">css</a></section>'
            '<div class="cell_output docutils container">'
            '<div class="output stream highlight-myst-ansi notranslate"><pre>all fine</pre></div></div>',
        ),
    )
    write(root, "_modules/pkg/mod.html", page("pkg.mod", '<div class="viewcode-block" id="Thing"></div>'))
    write(root, "search.html", "<html><head><title>Search</title></head><body></body></html>")
    write(root, "_images/fig.png", "png")
    write(root, "_static/style.css", "css")
    write(root, "_static/not-a-page.html", "<html><head><title></title></head></html>")


def test_a_clean_site_passes(tmp_path, checker, capsys):
    good_site(tmp_path)
    n, problems = checker.check(str(tmp_path))
    assert problems == [] and n == 4  # _static is not walked for pages
    assert checker.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "rendered docs: 4 pages checked, no problems"


def test_every_kind_of_problem_is_reported_with_its_page(tmp_path, checker, capsys):
    good_site(tmp_path)
    write(
        tmp_path,
        "broken.html",
        page(
            "Broken",
            '<a href="missing.html">a</a> <a href="guide.html#nowhere">b</a> <a href="#self">c</a>'
            '<a href="_modules/pkg/mod.html#Other">[docs]</a> <img src="_images/gone.png">'
            '<div class="cell_output docutils container">'
            '<div class="output stderr highlight-myst-ansi notranslate"><pre>UserWarning: careful</pre></div>'
            '<div class="output traceback highlight-ipythontb notranslate"><pre>ValueError</pre></div>'
            '<div class="output stream highlight-myst-ansi notranslate"><pre>Traceback (most recent call last)'
            "</pre></div></div>",
        ),
    )
    write(tmp_path, "fragment.html", page("&lt;no title&gt; - site", "<p>a table</p>", h1=False))
    write(tmp_path, "headless.html", page("Headless", "<p>no heading</p>", h1=False))
    n, problems = checker.check(str(tmp_path))
    text = "\n".join(problems)
    assert n == 7
    assert "broken.html:1: broken link 'missing.html': missing.html does not exist" in text
    assert "no anchor #nowhere in guide.html" in text and "no anchor #self in broken.html" in text
    assert "no anchor #Other in _modules/pkg/mod.html" in text
    assert "broken.html:1: missing image '_images/gone.png'" in text
    assert "fragment.html: page without a title" in text
    assert "headless.html: page without a title (no h1 in its main content)" in text
    outputs = [p for p in problems if "notebook output" in p]
    assert len(outputs) == 3
    assert "stderr, Warning" in outputs[0] and "traceback" in outputs[1] and "Traceback" in outputs[2]
    assert len(problems) == 10
    assert checker.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == problems and out[-1] == "rendered docs: 7 pages checked, 10 problem(s)"


def test_usage_errors(tmp_path, checker):
    assert checker.main([]) == 2
    assert checker.main([str(tmp_path)]) == 2  # no index.html: not a built site
