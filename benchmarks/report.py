"""The one way the benchmark scripts end: the total time appended, the report printed and written."""

from __future__ import annotations

import time


def write_report(lines: list[str], out: str, start: float) -> None:
    """Append the time since ``start`` (a ``time.perf_counter()`` value), print ``lines`` and write them to ``out``."""
    text = "\n".join([*lines, "", f"Total time: {time.perf_counter() - start:.0f} s"])
    print(text)
    with open(out, "w") as fh:
        fh.write(text + "\n")
