"""Sphinx configuration of nnpy's documentation site.

Build it against the INSTALLED package (autodoc imports nnpy from site-packages; the compiled
core exists only there): pip install ".[docs]", then
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""
import nnpy

project = "nnpy"
author = "the nnpy developers"
copyright = "the nnpy developers, MIT license"
version = release = nnpy.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# autodoc: members in the order of the source; signatures with names and defaults only (as
# numpy's and scikit-learn's references): the numpydoc sections say each parameter's type
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_preserve_defaults = True
# numpydoc: the API pages list members with autodoc directives, not numpydoc's tables
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# MyST: anchors for the headings of the markdown pages, so that page.md#heading links resolve
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"nnpy {release}"
html_theme_options = {"description": "A small, fast neural-network library", "page_width": "1100px"}


def _module_docstring_as_text(app, what, name, obj, options, lines):
    """The package's module docstrings are plain text laid out for help() (aligned columns,
    indented examples, names ending in an underscore): show them as written, in a literal
    block. Classes and functions have numpydoc sections, rendered as such."""
    if what == "module" and lines:
        lines[:] = ["::", ""] + ["    " + line if line else "" for line in lines]


def setup(app):
    # before numpydoc's own handler (priority 500), which then sees one literal block
    app.connect("autodoc-process-docstring", _module_docstring_as_text, priority=400)
