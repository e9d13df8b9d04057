"""nnpy's benchmark suite: the fixed workloads W1-W4 and W6 (docs/workloads.md) run on nnpy
and on the systems it is compared with, side by side in one run, and the W5 plug-in when
installed.

    nnpy bench [--quick]                results in ./bench-results/
    python bench/run.py [--quick]       (a source checkout) results in bench/results/
"""
from typing import List, Optional


def main(argv: Optional[List[str]] = None, prog: str = "nnpy bench",
         default_out: str = "bench-results") -> int:
    """Runs the suite with command-line arguments `argv` (default: sys.argv[1:]) under the
    command name `prog`, writing its results to `default_out` unless --out is given; returns
    the exit status (2 after a message for a bad argument)."""
    from .run import main as run_main
    return run_main(argv, prog=prog, default_out=default_out)
