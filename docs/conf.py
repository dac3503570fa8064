"""Sphinx configuration for skae's documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (warnings are
errors). The example gallery (``examples/plot_*.py``) is executed during the
build; set ``SKAE_DOCS_PLOT_GALLERY=0`` to skip running it.

Intersphinx links to scikit-learn, PyTorch, skorch, NumPy and matplotlib need
network access to fetch the inventories, so they are enabled only when
``SKAE_DOCS_INTERSPHINX=1``: offline (the default) the build stays warning-free
and references to those projects render as plain code.
"""

import os
import re
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import skae  # noqa: E402  (the checkout's skae, also when not installed)

# -- Project -----------------------------------------------------------------
project = "skae"
author = "The skae developers"
copyright = "2026, The skae developers"
release = skae.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Only to parse the Markdown benchmark reports included by benchmarks.rst.
    "myst_parser",
]
# Pages are reStructuredText; Markdown files are only ``include``d (with
# ``:parser: myst_parser.sphinx_``), never documents of their own.
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
default_role = "literal"
# MyST: the included reports are standalone Markdown documents whose headings
# start at level 1 below our own page title, and whose links may point at
# anchors of files that are not Sphinx documents (e.g. README.md#results).
suppress_warnings = ["myst.header", "myst.xref_missing"]
myst_enable_extensions = ["dollarmath"]

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
# Classes are documented with their inherited members (the class template,
# _templates/autosummary/class.rst): the transformers' fit, partial_fit,
# inverse_transform and score live in their shared base, skae._base. Those
# scikit-learn defines (get_params, set_output...), which api.rst names, are
# left out by _skip_members_inherited_from_sklearn.
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_validation_checks = set()

# -- intersphinx -------------------------------------------------------------
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
}
if os.environ.get("SKAE_DOCS_INTERSPHINX", "0") != "1":
    # Offline: fetching the inventories would fail with a warning (an error
    # under -W). Keep the mapping above as the documentation of what is linked.
    intersphinx_mapping = {}
intersphinx_timeout = 10

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_static_path = ["_static"]
html_theme_options = {
    "github_url": "https://github.com/skae-dev/skae",
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False

# -- sphinx-gallery ----------------------------------------------------------
# Examples print nothing from matplotlib backends and silence their own
# ConvergenceWarnings where they lower max_epochs on purpose.
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": os.environ.get("SKAE_DOCS_PLOT_GALLERY", "True"),
    "doc_module": ("skae",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skae": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    # Each example must run in under a minute on 2 CPU cores.
    "min_reported_time": 1,
    "show_memory": False,
    "abort_on_example_error": True,
}


# -- Consistency check -------------------------------------------------------
def _check_api_reference(app):
    """Fail (a warning, an error under -W) if a public name is missing from api.rst."""
    from sphinx.util import logging

    import skae.onnx
    import skae.plotting

    text = (DOCS / "api.rst").read_text()
    public = [name for name in skae.__all__ if not name.startswith("_")]
    public += [f"plotting.{name}" for name in skae.plotting.__all__]
    public += [f"onnx.{name}" for name in skae.onnx.__all__]
    documented = {line.strip() for line in text.splitlines()}
    missing = [name for name in public if name not in documented]
    if missing:
        logging.getLogger(__name__).warning(
            "docs/api.rst does not list these public names: %s", ", ".join(missing)
        )


_SHAPE = re.compile(r"shape \(([^()]*)\)")
_FITTED_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _quote_fitted_names_in_shapes(app, what, name, obj, options, lines):
    """Quote fitted-attribute names in ``of shape (n_samples, n_features_in_)``.

    In reST a bare word ending with ``_`` is a hyperlink reference, so an
    unquoted ``n_features_in_`` in a docstring's type line is an "Unknown target
    name" error. scikit-learn writes ``(`n_features_in_`,)``; this renders the
    unquoted spelling the same way.
    """

    def quote(match):
        return "shape (" + _FITTED_NAME.sub(r"`\1`", match.group(1)) + ")"

    lines[:] = [_SHAPE.sub(quote, line) for line in lines]


_MD_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
#: Markdown reports written by the benchmark scripts, included by benchmarks.rst.
BENCHMARK_REPORTS = ("RESULTS_quality.md", "RESULTS_performance.md", "RESULTS_anomaly.md")


def _rebase_markdown_links(text, source_dir):
    """Make the relative link and image targets of Markdown ``text`` source-root absolute.

    ``.. include::`` inserts the text as is, so ``![](results/x.png)`` in
    ``benchmarks/RESULTS_*.md`` would be looked up next to the including page.
    Sphinx reads a target starting with ``/`` relative to docs/, the source
    directory: ``/../benchmarks/results/x.png`` resolves wherever it is included.
    Targets that do not exist are left alone.
    """

    def rebase(match):
        target = match.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target, flags=re.IGNORECASE):
            return match.group(0)
        file_part, hash_, anchor = target.partition("#")
        if not (source_dir / file_part).exists():
            return match.group(0)
        rebased = "/" + os.path.relpath(source_dir / file_part, DOCS).replace(os.sep, "/")
        return match.group(1) + rebased + hash_ + anchor + match.group(3)

    return _MD_LINK.sub(rebase, text)


def _prepare_benchmark_reports(app):
    """Copy benchmarks/RESULTS_*.md to docs/generated/benchmarks/, links rebased."""
    out = DOCS / "generated" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    for name in BENCHMARK_REPORTS:
        source = ROOT / "benchmarks" / name
        if not source.exists():
            raise FileNotFoundError(
                f"{source} is missing: the Benchmarks page includes it. Run the "
                "benchmark script that writes it (see benchmarks/)."
            )
        text = _rebase_markdown_links(source.read_text(encoding="utf-8"), source.parent)
        target = out / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


def _skip_members_inherited_from_sklearn(app, what, name, obj, skip, options):
    """Leave out the class members that skae inherits from outside skae.

    scikit-learn's ``get_params``, ``set_output``, ``fit_transform``... are
    listed in api.rst's introduction; their docstrings refer to labels of
    scikit-learn's own documentation, which would be errors here.
    """
    if what != "class" or skip:
        return None
    function = obj.fget if isinstance(obj, property) else obj
    module = getattr(function, "__module__", None) or ""
    if module and module.split(".")[0] != "skae":
        return True
    return None


def setup(app):
    app.connect("builder-inited", _prepare_benchmark_reports)
    app.connect("builder-inited", _check_api_reference)
    app.connect("autodoc-skip-member", _skip_members_inherited_from_sklearn)
    # Before numpydoc (priority 500) rewrites the docstring.
    app.connect("autodoc-process-docstring", _quote_fitted_names_in_shapes, priority=400)
