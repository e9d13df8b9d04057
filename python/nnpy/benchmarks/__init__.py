"""nnpy's benchmark suite: the fixed workloads W1-W4 (docs/workloads.md) run on nnpy
and on the systems it is compared with, side by side in one run.

    nnpy bench [--quick]          (or python bench/run.py [--quick] in a source checkout)
"""


def main(argv=None):
    """Runs the suite with command-line arguments `argv`; returns the exit status."""
    from .run import main as run_main
    return run_main(argv)
