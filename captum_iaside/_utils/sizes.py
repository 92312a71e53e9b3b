r"""Memory sizes in words: parsed from what a user types (``"2GB"``) and written for a person (``"1.31 GB"``).

Pure Python, so the command line can check ``--max-memory`` without importing PyTorch.
"""

from __future__ import annotations

import math
import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: object, name: str = "max_memory") -> int:
    r"""
    A memory size in bytes: a positive number of bytes (``2e9``) or a string with a unit (``"2GB"``,
    ``"512MB"``, ``"1.5GiB"``; kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024).

    Raises:
        TypeError: for a value that is neither a number nor a string (a bool is neither).
        ValueError: naming ``name``, for a size that is not positive or a string that is not a size.

    Examples::

        >>> parse_memory("512MB"), parse_memory("2GiB"), parse_memory(2e9)
        (512000000, 2147483648, 2000000000)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(
            f"{name} must be a size such as '2GB', '512MB' or a number of bytes, got {type(value).__name__}"
        )
    if isinstance(value, str):
        match = _SIZE.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"{name} must be a size such as '2GB', '512MB' or a number of bytes, got {value!r}")
        size = float(match.group(1)) * _UNITS[unit]
    else:
        size = float(value)
    if not math.isfinite(size) or size < 1:
        raise ValueError(f"{name} must be a positive size such as '2GB' or '512MB', got {value!r}")
    return int(size)


def format_bytes(size: float) -> str:
    r"""``size`` bytes in words: ``"1.31 GB"``, ``"512 MB"`` (powers of 1000)."""
    if round(size / 1e9, 2) >= 1:
        return f"{size / 1e9:.2f} GB"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if float(f"{size / scale:.3g}") >= 1:
            return f"{float(f'{size / scale:.3g}'):g} {unit}"
    return f"{int(size)} B"
