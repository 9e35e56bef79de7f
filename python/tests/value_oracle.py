"""The oracle of test_value_types.py: what a cell of the client's DataFrame or dict must be, given
the value the TS side sent (the JSON on the wire, read with Python's exact integers) or wrote (a
Parquet row, read by pyarrow as Python values) and the value's kfs type. Written apart from the
client (kfs/frames.py, kfs/answer.py), so a conversion both share cannot agree with itself.

A cell passes when it is the same value in the same kind: an int for a long (any width: exact,
never a float), a float for a double (bit for bit: -0.0 is not 0.0; NaN is NaN), a bool for a
boolean, the same text for a string, element for element for a list; and null when the source is
null (pandas' NA, None, NaN or NaT, as the column's dtype has it)."""

from __future__ import annotations

import math
import struct
from typing import Any, List, Optional

import numpy as np
import pandas as pd


def is_null(cell: Any) -> bool:
    if cell is None or cell is pd.NA or cell is pd.NaT:
        return True
    return isinstance(cell, (float, np.floating)) and math.isnan(cell)


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def mismatch(kind: str, cell: Any, expected: Any) -> Optional[str]:
    """Why ``cell`` is not ``expected`` of kind ``long``/``int``, ``double``, ``string``,
    ``boolean`` or ``<kind>[]``; None when it is. ``expected`` is exact (int, float, bool, str, list)."""
    if expected is None:
        return None if is_null(cell) else f"{cell!r} for null"
    if kind.endswith("[]"):
        if is_null(cell) or isinstance(cell, (str, bytes)) or not hasattr(cell, "__len__"):
            return f"{cell!r} for the list {expected!r}"
        items = list(cell)
        if len(items) != len(expected):
            return f"{items!r} for the list {expected!r}"
        for got, want in zip(items, expected):
            why = mismatch(kind[:-2], got, want)
            if why is not None:
                return f"element {why}"
        return None
    if is_null(cell) and not (isinstance(expected, float) and math.isnan(expected)):
        return f"null for {expected!r}"
    if kind in ("long", "int"):
        if isinstance(cell, (bool, np.bool_)) or not isinstance(cell, (int, np.integer)):
            return f"{cell!r} ({type(cell).__name__}) for the integer {expected!r}: not an integer"
        return None if int(cell) == expected else f"{int(cell)} for {expected}"
    if kind == "double":
        if not isinstance(cell, (float, np.floating)):
            return f"{cell!r} ({type(cell).__name__}) for the double {expected!r}: not a float"
        if math.isnan(expected):
            return None if math.isnan(cell) else f"{cell!r} for NaN"
        return None if _bits(float(cell)) == _bits(float(expected)) else f"{float(cell)!r} for {float(expected)!r}"
    if kind == "boolean":
        if not isinstance(cell, (bool, np.bool_)):
            return f"{cell!r} ({type(cell).__name__}) for the boolean {expected!r}"
        return None if bool(cell) == expected else f"{cell!r} for {expected!r}"
    if kind == "string":
        return None if isinstance(cell, str) and cell == expected else f"{cell!r} for {expected!r}"
    raise AssertionError(f"no oracle for kind {kind}")


def column_mismatches(kind: str, cells: List[Any], expected: List[Any]) -> List[str]:
    return [f"row {i}: {why}" for i, (c, e) in enumerate(zip(cells, expected)) if (why := mismatch(kind, c, e)) is not None]


def js_number(x: float) -> str:
    """A double's JSON text as serve writes it (JSON.stringify; -0 as ``-0.0``, core/feature-json.ts):
    a whole number below 1e21 in integer digits (2^60 is ``1152921504606847000``), else the
    shortest round-trip text."""
    if x == 0 and math.copysign(1, x) < 0:
        return "-0.0"
    if x.is_integer() and abs(x) < 1e21:
        from decimal import Decimal

        return str(int(Decimal(repr(x))))
    return repr(x)
