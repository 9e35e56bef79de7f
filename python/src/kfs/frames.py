"""Arrow tables as pandas DataFrames without a value changed on the way: the one conversion the
online frame (client.py) and the training set's frame (training.py) share.

pyarrow's default ``to_pandas`` turns an integer column with a null into float64 — 2^53 + 1 reads
as 2^53, and every int becomes a float — and a boolean column with a null into ``object``. So
integer columns become pandas' nullable integer dtypes (``Int64``, ``UInt64``, … by width) and
boolean columns ``boolean``, whatever the column holds: a column's dtype follows its type, never
whether this answer happened to hold a null. A list of integers or booleans with a null element
(never in a kfs feature; possible in a label column carried through) would become a float array
the same way: its cells are object arrays of the exact values instead.

Everything else converts as pyarrow converts it: doubles as float64 (a null is NaN: no kfs
feature value is NaN), strings as pandas' default string dtype, timestamps in their own unit and
zone, lists as numpy arrays.
"""

from __future__ import annotations

from typing import Any, List, Optional

import numpy as np
import pandas as pd
import pyarrow as pa

_NULLABLE = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def nullable_dtype(arrow_type: pa.DataType) -> Optional[Any]:
    """The pandas dtype of an Arrow column type, when it is not pyarrow's default (see above)."""
    return _NULLABLE.get(arrow_type)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table`` as a DataFrame, cell for cell (see the module's doc)."""
    frame = table.to_pandas(types_mapper=nullable_dtype)
    for name, column in zip(table.column_names, table.columns):
        if _lossy_list(column.type) and _null_inside(column):
            frame[name] = pd.Series(_object_cells(column.to_pylist()), index=frame.index, dtype=object)
    return frame


def _is_list(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type))


def _lossy_list(arrow_type: pa.DataType) -> bool:
    """A list (of lists …) of integers or booleans: numpy reads its null elements as NaN."""
    while _is_list(arrow_type):
        arrow_type = arrow_type.value_type
    return bool(pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type))


def _null_inside(column: "pa.ChunkedArray") -> bool:
    for chunk in column.chunks:
        values: pa.Array = chunk
        while _is_list(values.type):
            values = values.flatten()
            if values.null_count > 0:
                return True
    return False


def _object_cells(cells: List[Any]) -> "np.ndarray[Any, Any]":
    """Each list cell as a 1-d object array of its exact values (nested lists stay Python lists)."""
    out = np.empty(len(cells), dtype=object)
    for i, cell in enumerate(cells):
        if cell is not None:
            array = np.empty(len(cell), dtype=object)
            for j, value in enumerate(cell):  # one by one: numpy would make a 2-d array of equal sub-lists
                array[j] = value
            out[i] = array
    return out
