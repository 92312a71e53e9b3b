"""Execute every tutorial notebook in place (outputs stored), failing on the first error.

    python tutorials/execute.py [--budget 180] [--check] [NOTEBOOK ...]    # --check: execute without saving

Each notebook must finish within the budget (seconds); its run time is printed.
"""

import argparse
import glob
import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=180.0, help="seconds allowed per notebook")
    p.add_argument("--check", action="store_true", help="execute without writing the outputs back")
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: every *.ipynb beside this script)")
    args = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    failed = 0
    paths = [os.path.abspath(n) for n in args.notebooks] or sorted(glob.glob(os.path.join(here, "*.ipynb")))
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb, timeout=int(args.budget), kernel_name="python3", resources={"metadata": {"path": here}}
        ).execute()
        seconds = time.perf_counter() - start
        over = seconds > args.budget
        failed += over
        print(f"{os.path.basename(path)}: {seconds:.0f} s{'  (over the budget)' if over else ''}", flush=True)
        if not args.check:
            nbformat.write(nb, path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
