"""nnpy: a small, fast neural-network library: the blog post's API on a compiled Cython core."""
__version__ = "0.1.0"

from ._dispatch import CPU_LEVEL
