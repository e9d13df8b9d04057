"""`python -m nnpy ...` runs the `nnpy` command (see nnpy.cli)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
