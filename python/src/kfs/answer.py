"""Reading an answer of ``POST /v1/features`` (serving/handlers/get-features.ts): its shape is
checked before anything is taken from it, and each value against its feature's type, so what a
proxy, another service or a broken server answers is a BAD_RESPONSE naming what is wrong — never
a KeyError from deep inside the client, and never a value changed on its way into a DataFrame
(pyarrow reads 1.5 as the long 1 when told the column is int64)."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Mapping, Optional

import pyarrow as pa

from .errors import KfsError
from .registry import ARROW_TYPES

STATUSES = ("PRESENT", "MISSING", "OUTSIDE_TTL")
# int64's range: a long beyond it cannot be a kfs long (and pyarrow would refuse it).
_INT64 = (-(2**63), 2**63 - 1)


def bad_response(message: str) -> KfsError:
    return KfsError("BAD_RESPONSE", f"POST /v1/features: {message}")


def check_answer(answer: Any, rows_asked: int) -> Dict[str, Any]:
    """``answer`` if it is a feature answer for ``rows_asked`` entity rows; else BAD_RESPONSE."""
    if not isinstance(answer, dict):
        raise bad_response(f"the answer is not a JSON object but {type(answer).__name__}")
    features = answer.get("features")
    rows = answer.get("rows")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise bad_response("the answer has no list of feature names (features)")
    if not isinstance(rows, list):
        raise bad_response("the answer has no list of rows (rows)")
    if len(rows) != rows_asked:
        raise bad_response(f"the answer has {len(rows)} rows for {rows_asked} entity rows asked")
    for i, row in enumerate(rows):
        _check_row(row, i, len(features))
    return answer


def _check_row(row: Any, i: int, width: int) -> None:
    if not isinstance(row, dict):
        raise bad_response(f"row {i} is not an object")
    if not isinstance(row.get("entities"), dict):
        raise bad_response(f"row {i} has no entities object")
    values = row.get("values")
    if not isinstance(values, list) or len(values) != width:
        raise bad_response(f"row {i} does not hold one value per feature ({width})")
    views = row.get("views")
    if not isinstance(views, dict):
        raise bad_response(f"row {i} has no views object")
    for view, state in views.items():
        if not isinstance(state, dict) or state.get("status") not in STATUSES:
            raise bad_response(f"row {i}: view {view}'s state is not a status of {', '.join(STATUSES)}")
        as_of = state.get("as_of")
        if as_of is not None and (isinstance(as_of, bool) or not isinstance(as_of, int)):
            raise bad_response(f"row {i}: view {view}'s as_of is not epoch milliseconds: {as_of!r}")


def _long(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, float):
        # A long's JSON text may be a float's (1e+21 from JavaScript): whole and in range is a long.
        return math.isfinite(v) and v.is_integer() and _INT64[0] <= v <= _INT64[1]
    return isinstance(v, int) and _INT64[0] <= v <= _INT64[1]


_SCALAR: Dict[str, Callable[[Any], bool]] = {
    "long": _long,
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
}


def holds(kfs_type: str, value: Any) -> bool:
    """Whether ``value`` (decoded JSON) is a value of the kfs type (null is every type's)."""
    if value is None:
        return True
    if kfs_type.endswith("[]"):
        element = _SCALAR[kfs_type[:-2]]
        return isinstance(value, list) and all(v is None or element(v) for v in value)
    return _SCALAR[kfs_type](value)


def typed(kfs_type: str, value: Any) -> Any:
    """A value ``holds`` accepts as the Python value of its type: a long as an ``int`` (a whole
    number written as a float's text, ``5.0``, is its int), a double as a ``float`` — JavaScript writes a whole
    double below 1e21 as integer digits (2^60 as ``1152921504606847000``), which ``json`` reads as
    an int: its float is the double serve sent, where pyarrow refuses the int — lists element by element."""
    if value is None:
        return None
    if kfs_type.endswith("[]"):
        return [typed(kfs_type[:-2], v) for v in value]
    if kfs_type == "long":
        return int(value)
    if kfs_type == "double":
        return float(value)
    return value


def typed_values(name: str, values: List[Any], kfs_type: str) -> List[Any]:
    """``values`` of feature ``name`` as their type's Python values; BAD_RESPONSE for one its type cannot hold."""
    for i, value in enumerate(values):
        if not holds(kfs_type, value):
            raise bad_response(f"row {i}: {value!r} is not a {kfs_type}, the type of feature {name}")
    return [typed(kfs_type, v) for v in values]


def column(name: str, values: List[Any], kfs_type: Optional[str]) -> pa.Array:
    """The Arrow column of a feature's values, typed as the training set types it (registry.py's
    ARROW_TYPES); BAD_RESPONSE for a value its type cannot hold. A type unknown here is inferred."""
    arrow_type = ARROW_TYPES.get(kfs_type) if kfs_type is not None else None
    if kfs_type is not None and arrow_type is not None:
        values = typed_values(name, values, kfs_type)
    try:
        return pa.array(values, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
        raise bad_response(f"the values of feature {name} do not make one column: {err}") from err


def snippet(text: str, limit: int = 200) -> str:
    """The start of a body that is not kfs's (a proxy's page), on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else f"{flat[:limit]}…"

