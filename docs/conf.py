"""Sphinx configuration of the captum-iaside documentation."""

import dataclasses
import os
import pkgutil
import re
import shutil
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import captum_iaside  # noqa: E402

project = "captum-iaside"
author = "captum-iaside developers"
copyright = f"2026, {author}"  # the footer reads "Copyright © 2026, captum-iaside developers"
release = version = captum_iaside.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
html_theme = "furo"
html_title = f"captum-iaside {release}"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "mixed"  # the constructor's parameters in the class's own signature
autoclass_content = "class"  # the class docstring only: a dataclass's generated __init__ has none to add
napoleon_google_docstring = True
napoleon_numpy_docstring = False
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # notebooks are rendered from their stored outputs; CI executes them apart
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
nitpicky = False
# No intersphinx: the documentation builds offline, where the Python, PyTorch and Captum inventories
# cannot be fetched.
# [source] links: the package exports its names lazily (a module __getattr__), so viewcode follows each
# documented name to the module that defines it (captum_iaside.IASIDE -> _modules/captum_iaside/iaside).
viewcode_follow_imported_members = True

HERE = os.path.dirname(os.path.abspath(__file__))
_INCLUDE = re.compile(r"^(?:```+|:::+)\{include\}\s+(\S+)|^\.\. include::\s+(\S+)", re.MULTILINE)


def _included_fragments() -> list[str]:
    """Markdown sources under docs/ that other pages pull in with ``{include}``, as exclude patterns.

    A fragment is not a page of its own (it has no title, and is in no toctree): it is excluded from the
    build, which does not stop the pages that include it from reading it. Fragments written at build time
    (``_generated/benchmarks.md``) are named here because they may not exist yet when the sources are
    scanned.
    """
    found = {"_generated/benchmarks.md"}
    for folder, dirs, files in os.walk(HERE):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_build"))]
        for name in files:
            if not name.endswith((".md", ".rst")):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                text = fh.read()
            for match in _INCLUDE.finditer(text):
                target = os.path.normpath(os.path.join(folder, match.group(1) or match.group(2)))
                rel = os.path.relpath(target, HERE)
                if not rel.startswith("..") and rel.endswith((".md", ".rst")):
                    found.add(rel.replace(os.sep, "/"))
    return sorted(found)


exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", *_included_fragments()]


def _generated_sources() -> None:
    """Tutorials, the CLI reference, the benchmark table and the band figure, made at build time."""
    tutorials = os.path.join(HERE, "_generated", "tutorials")
    os.makedirs(tutorials, exist_ok=True)
    for name in sorted(os.listdir(os.path.join(ROOT, "tutorials"))):
        if name.endswith(".ipynb"):
            shutil.copyfile(os.path.join(ROOT, "tutorials", name), os.path.join(tutorials, name))
    from captum_iaside.cli.arguments import build_parser

    with open(os.path.join(HERE, "_generated", "cli-help.txt"), "w") as fh:
        fh.write(build_parser().format_help())
    shutil.copyfile(os.path.join(ROOT, "benchmarks", "results.md"), os.path.join(HERE, "_generated", "benchmarks.md"))
    _band_figure(os.path.join(HERE, "_generated", "bands.png"))


def _band_figure(path: str) -> None:
    """The band index of every DFT bin for square and circle bands, side by side, one colour bar."""
    import matplotlib.pyplot as plt
    import torch
    from matplotlib.colors import BoundaryNorm

    from captum_iaside import SpectralBands

    n_bands, size = 8, 64
    cmap = plt.get_cmap("viridis", n_bands)
    norm = BoundaryNorm([b - 0.5 for b in range(n_bands + 1)], n_bands)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6), sharey=True, layout="constrained")
    for ax, shape in zip(axes, ["square", "circle"], strict=True):
        index = torch.fft.fftshift(SpectralBands(n_bands, shape=shape).index(size, size))
        im = ax.imshow(index.numpy(), cmap=cmap, norm=norm, extent=(-0.5, 0.5, 0.5, -0.5))
        ax.set_title(f'shape="{shape}"')
        ax.set_xlabel("horizontal frequency (cycles/pixel)")
    axes[0].set_ylabel("vertical frequency (cycles/pixel)")
    fig.suptitle(f"SpectralBands({n_bands}) at {size} × {size}: the band of each frequency")
    fig.colorbar(im, ax=axes, label="band", ticks=range(n_bands), shrink=0.9, pad=0.03)
    fig.savefig(path, dpi=90, bbox_inches="tight", pad_inches=0.1)
    plt.close(fig)


_generated_sources()


# -- dataclasses: clean signatures, no Parameters list that repeats the documented attributes --------------


def _split_params(signature: str) -> list[str]:
    """The top-level parameters of ``"(a, b=(1, 2), c=<factory>)"``."""
    params, depth, current = [], 0, ""
    for ch in signature.strip()[1:-1]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            params.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        params.append(current.strip())
    return params


def _dataclass_signature(app, what, name, obj, options, signature, return_annotation):
    """A dataclass's signature: ``config=dict()`` for ``config=<factory>``, no private init fields."""
    if what != "class" or not dataclasses.is_dataclass(obj) or not signature:
        return None
    fields = {f.name: f for f in dataclasses.fields(obj)}
    kept = []
    for param in _split_params(signature):
        pname = re.split(r"[:=]", param, maxsplit=1)[0].strip().lstrip("*")
        if pname.startswith("_") and pname in fields:
            continue  # a private field (set by the library, not by the caller)
        field = fields.get(pname)
        if field is not None and field.default_factory is not dataclasses.MISSING:
            factory = getattr(field.default_factory, "__name__", "")
            shown = f"{factory}()" if factory.isidentifier() else "..."
            param = param.replace("<factory>", shown)
        kept.append(param)
    return f"({', '.join(kept)})", return_annotation


def _annotations(env) -> dict:
    document = getattr(env, "current_document", None)
    if document is not None and hasattr(document, "autodoc_annotations"):
        return document.autodoc_annotations
    return env.temp_data.get("annotations", {})  # Sphinx < 8.2


def _dataclass_parameters(app, domain, objtype, contentnode):
    """Drop from a dataclass's typehint Parameters list what its Attributes section documents already.

    Runs before autodoc merges the recorded type hints into the description (priority 400 < 500).
    """
    if domain != "py" or objtype != "class":
        return
    from sphinx import addnodes

    signature = contentnode.parent[0]
    fullname = ".".join(p for p in (signature.get("module"), signature.get("fullname")) if p)
    hints = _annotations(app.env).get(fullname)
    if not hints:
        return
    try:
        obj = pkgutil.resolve_name(fullname)
    except Exception:
        return
    if not dataclasses.is_dataclass(obj):
        return
    attributes = {
        sig.get("fullname", "").rsplit(".", 1)[-1]
        for desc in contentnode.findall(addnodes.desc)
        if desc.get("objtype") in ("attribute", "property")
        for sig in desc.findall(addnodes.desc_signature)
    }
    for pname in list(hints):
        if pname in attributes or pname.startswith("_"):
            del hints[pname]


def _no_inline_type(app, what, name, obj, options, lines):
    """Keep Napoleon from reading the start of an annotated property's or constant's docstring as its type.

    Napoleon takes ``text: more`` on the first line of an attribute's docstring for ``type: description``,
    so ``"The SRS without its absolute value: positive when ..."`` became a type and the links in it were
    lost. When the signature shows the annotation already, an empty comment (``..``) put first makes
    Napoleon keep the whole docstring as the description. Runs before Napoleon (priority 400 < 500).
    """
    if what not in ("property", "attribute", "data") or not lines or ":" not in lines[0]:
        return
    if isinstance(obj, property):
        annotated = "return" in getattr(obj.fget, "__annotations__", {})
    else:
        owner, _, attr = name.rpartition(".")
        parent = _resolve(owner)
        annotated = parent is not _MISSING and attr in getattr(parent, "__annotations__", {})
    if annotated:
        lines[:0] = ["..", ""]


# -- cross-references to documented objects under another name ----------------------------------------------

_MISSING = object()


def _resolve(dotted: str):
    """The Python object a dotted name names, or _MISSING."""
    if not dotted or not dotted.startswith("captum_iaside"):
        return _MISSING
    try:
        return pkgutil.resolve_name(dotted)
    except Exception:
        return _MISSING


def _resolve_documented(app, env, node, contnode):
    """Resolve a Python reference that Sphinx did not find to the documented object it means.

    The API reference documents most objects at their public name (``captum_iaside.IASIDE``) while the
    docstrings refer to them from where they are defined (``:func:`captum_iaside.attr.compare.compare_global```,
    ``:func:`tune_cpu``` inside ``captum_iaside.tuning``, ``:meth:`IASIDE.attribute``` inside
    ``captum_iaside.visualization``). The reference is matched against the documented names that end with
    its last components; a match is taken when it is the same Python object, or, when the reference names
    no importable object, when it is the only one.
    """
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    domain = env.get_domain("py")
    target = node["reftarget"].removesuffix("()").lstrip("~.")
    reftype = node.get("reftype")
    modname, clsname = node.get("py:module"), node.get("py:class")
    objtypes = set(domain.objtypes_for_role(reftype) or []) if reftype not in (None, "obj") else None
    meant = _MISSING
    for context in (f"{modname}.{clsname}" if modname and clsname else None, modname, None):
        meant = _resolve(f"{context}.{target}" if context else target)
        if meant is not _MISSING:
            break
    parts = target.split(".")
    for k in range(len(parts)):
        suffix = ".".join(parts[k:])
        candidates = [
            (name, entry)
            for name, entry in domain.objects.items()
            if (name == suffix or name.endswith("." + suffix)) and not entry.aliased
        ]
        typed = [c for c in candidates if objtypes is None or c[1].objtype in objtypes]
        if meant is not _MISSING:
            same = [c for c in candidates if _resolve(c[0]) is meant]
            if same:
                candidates = same
            else:
                continue
        elif len(typed) == 1:
            candidates = typed
        if len(candidates) == 1:
            name, entry = candidates[0]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)
        if k == 0 and meant is _MISSING:
            break  # a name of no importable object: only an exact suffix match is trusted
    return None


# -- [docs] links of the highlighted sources ---------------------------------------------------------------


def _viewcode_backlink_ids(app, doctree, docname):
    """Give every documented object the anchor that its highlighted source's ``[docs]`` link points to.

    viewcode writes one page per defining module, whose ``[docs]`` links are ``#<name>.<object>`` with the
    name under which the module's first object was documented: ``captum_iaside.FourierModel`` puts
    ``#captum_iaside.spectrum_of`` on the link back to ``captum_iaside.attr.fourier_model.spectrum_of``. That second
    id is added to the object's signature, so both links land.
    """
    from sphinx import addnodes
    from sphinx.ext.viewcode import _get_full_modname

    modules = getattr(app.env, "_viewcode_modules", {})
    for sig in doctree.findall(addnodes.desc_signature):
        modname, fullname = sig.get("module"), sig.get("fullname")
        if not modname or not fullname:
            continue
        entry = modules.get(_get_full_modname(modname, fullname) or "")
        if not entry or fullname not in entry[2]:
            continue
        anchor = f"{entry[3]}.{fullname}"
        if anchor not in sig["ids"]:
            sig["ids"].append(anchor)


def _fresh_viewcode_pages(app):
    """Have viewcode write every highlighted source page again.

    viewcode skips a page that is newer than its module, but a page holds an anchor only for the objects
    documented when it was written: after the API reference names more objects (or names them
    differently), the old page lacks their anchors and their ``[source]`` links land nowhere.
    """
    if app.builder.format == "html":
        shutil.rmtree(os.path.join(app.outdir, "_modules"), ignore_errors=True)


def setup(app):
    app.connect("builder-inited", _fresh_viewcode_pages)
    app.connect("autodoc-process-signature", _dataclass_signature)
    app.connect("object-description-transform", _dataclass_parameters, priority=400)
    app.connect("autodoc-process-docstring", _no_inline_type, priority=400)
    app.connect("missing-reference", _resolve_documented)
    app.connect("doctree-resolved", _viewcode_backlink_ids)
