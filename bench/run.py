"""nnpy's benchmark suite from a source checkout: python bench/run.py [--quick] [...].

The suite itself is installed with nnpy (nnpy.benchmarks, also `nnpy bench`, which writes to
./bench-results/); this script runs it against the installed nnpy and writes its results to
bench/results/ beside it unless --out says otherwise. See bench/README.md.
"""
import os
import sys

from nnpy.benchmarks import main

if __name__ == "__main__":
    results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    sys.exit(main(sys.argv[1:], prog="python bench/run.py",
                  default_out=os.path.relpath(results)))
