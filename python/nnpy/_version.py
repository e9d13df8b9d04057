"""nnpy's version, in a module of its own: the build reads it (pyproject.toml), and the modules
that write it into files import it from here rather than from the package."""
__version__ = "0.1.0"
