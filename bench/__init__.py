"""nnpy's benchmark suite: the fixed workloads W1-W4 (shared/bench/WORKLOADS.md) run on nnpy
and on the systems it is compared with, side by side in one run. Entry point: bench/run.py."""
