"""The value-type audit (test_value_types.py) against a real kfs: what `kfs serve` sends on the wire
(read with Python's exact integers) and what `kfs training-set` writes to Parquet (read by pyarrow
as Python values) are, cell for cell, what the client's DataFrames and dicts hold (value_oracle.py):
every feature of the demo (counts and approx_distinct longs, doubles, the last_n string[], the
request feature's double), for entities found and not (MISSING: nulls in every column), and label
columns of every Arrow type a training set carries through — int64 at ±2^63 − 1 and ±2^53 ± 1,
uint64 to 2^64 − 1, the narrower integers, float64 and float32 with -0.0, NaN and ±Infinity,
booleans, empty and non-BMP text, timestamps, lists of each with null elements — each with nulls,
without, and all null."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from kfs import Client, KfsError

from conftest import API_KEY, Kfs
from test_historical import random_labels
from value_oracle import column_mismatches, mismatch

SAFE = 2**53
LONG_MAX = 2**63 - 1


def kind_of(arrow_type: pa.DataType) -> str:
    """The oracle's kind of a Parquet column's type."""
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return kind_of(arrow_type.value_type) + "[]"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    raise AssertionError(f"no oracle kind for {arrow_type}")


# Label columns beside the plain labels: name → (Arrow type, values cycled over the rows).
LABEL_COLUMNS: Dict[str, Any] = {
    "int64_extremes": (pa.int64(), [LONG_MAX, -LONG_MAX, -(2**63), SAFE + 1, -(SAFE + 1), SAFE - 1, None]),
    "int64_no_nulls": (pa.int64(), [SAFE + 1, 0, -(SAFE + 1)]),
    "int64_all_null": (pa.int64(), [None]),
    "uint64": (pa.uint64(), [2**64 - 1, 2**63 + 1, None, 0]),
    "int32": (pa.int32(), [2**31 - 1, -(2**31), None]),
    "int16": (pa.int16(), [2**15 - 1, None]),
    "int8": (pa.int8(), [-(2**7), None, 7]),
    "float64": (pa.float64(), [-0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308, None]),
    "float32": (pa.float32(), [-0.0, math.nan, math.inf, -math.inf, 3.4028234663852886e38, None, 1.5]),
    "boolean": (pa.bool_(), [True, None, False]),
    "boolean_no_nulls": (pa.bool_(), [True, False]),
    "text": (pa.string(), ["", "😀𝄞 non-BMP", None, "日本"]),
    "at_ns": (pa.timestamp("ns"), [1_780_000_000_123_456_789, None, -1]),
    "at_us_utc": (pa.timestamp("us", tz="UTC"), [1_780_000_000_123_456, None, -1]),
    "at_ms": (pa.timestamp("ms"), [253_402_300_799_999, None, 0]),
    "ids": (pa.list_(pa.int64()), [[LONG_MAX, None, -(SAFE + 1)], [], None]),
    "doubles": (pa.list_(pa.float64()), [[-0.0, math.nan, None], None, []]),
    "texts": (pa.list_(pa.string()), [["", "😀", None], None]),
}


def labels_table(kfs: Kfs, n: int = 120) -> pa.Table:
    frame = random_labels(kfs, n)
    frame.loc[frame.index % 5 == 0, "user_id"] = "nobody"  # no such user: MISSING, null features
    table = pa.Table.from_pandas(frame, preserve_index=False).cast(
        pa.schema([("user_id", pa.string()), ("item_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")), ("amount", pa.float64()), ("is_fraud", pa.int64())])
    )
    for name, (arrow_type, cycle) in LABEL_COLUMNS.items():
        table = table.append_column(name, pa.array([cycle[i % len(cycle)] for i in range(n)], arrow_type))
    return table


def all_features(client: Client) -> List[str]:
    refs = [ref for name in ("user_clicks", "user_purchases", "item_clicks") for ref in client.describe(name).feature_refs()]
    return [*refs, "amount_vs_avg_7d"]


def timestamp_ms(cell: Any, unit: str) -> Any:
    return None if cell is None or cell is pd.NaT else int(pd.Timestamp(cell).as_unit(unit).asm8.view("i8"))


def assert_frame_is_parquet(frame: pd.DataFrame, table: pa.Table) -> None:
    """Every column of the file, every cell, by the oracle; integer columns never float, whatever they hold."""
    assert list(frame.columns) == table.column_names
    problems: List[str] = []
    for name, column in zip(table.column_names, table.columns):
        kind = kind_of(column.type)
        cells = list(frame[name])
        if kind == "timestamp":
            unit = column.type.unit
            got = [timestamp_ms(c, unit) for c in cells]
            if got != column.cast(pa.int64()).to_pylist():
                problems.append(f"{name}: {got[:5]}… for {column.cast(pa.int64()).to_pylist()[:5]}…")
            continue
        problems += [f"{name} ({column.type}) {why}" for why in column_mismatches(kind, cells, column.to_pylist())[:3]]
        if kind == "int" and not pd.api.types.is_integer_dtype(frame[name].dtype):
            problems.append(f"{name} ({column.type}) is {frame[name].dtype}, not an integer dtype")
        if kind == "boolean" and not pd.api.types.is_bool_dtype(frame[name].dtype):
            problems.append(f"{name} ({column.type}) is {frame[name].dtype}, not a boolean dtype")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("given_as", ["parquet path", "DataFrame"])
def test_the_training_frame_holds_the_parquet_rows(client: Client, kfs: Kfs, tmp_path: Path, given_as: str) -> None:
    table = labels_table(kfs)
    labels: Any = tmp_path / "labels.parquet"
    pq.write_table(table, labels)
    if given_as == "DataFrame":
        labels = table.to_pandas(types_mapper=pd.ArrowDtype)  # every value as it is, nulls apart from NaN
    out = tmp_path / "training.parquet"
    frame = client.get_historical_features(labels, features=all_features(client), out=out)
    written = pq.read_table(out)
    assert_frame_is_parquet(frame, written)
    # The audit saw what it is for: long features with nulls (MISSING rows) and without.
    count = written.column("user_purchases__count").to_pylist()
    assert None in count and any(v is not None for v in count)
    # Each label column is carried through as its type; timestamps as DuckDB reads them (ms widens to
    # µs; a zoned ns column is refused by the CLI: test_zoned_nanoseconds below).
    changed = {name: str(written.column(name).type) for name in LABEL_COLUMNS if written.column(name).type != table.column(name).type}
    assert changed == {"at_ms": "timestamp[us]"}


def zoned_ns_labels(kfs: Kfs, values: List[Any]) -> pd.DataFrame:
    frame = random_labels(kfs, len(values))
    frame["seen_at"] = pd.Series(pd.array(values, dtype="Int64")).astype("datetime64[ns]").dt.tz_localize("UTC")
    return frame


def test_zoned_nanoseconds_of_whole_microseconds_are_written_as_microseconds(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    # pandas holds a UTC time as datetime64[ns, UTC]: the client writes it as the same instants in
    # microseconds, which the CLI carries as written (before 1970 and null included).
    values = [1_780_000_000_123_456_000, None, -1_000, 0]
    labels = zoned_ns_labels(kfs, values)
    assert str(labels["seen_at"].dtype) == "datetime64[ns, UTC]"
    out = tmp_path / "training.parquet"
    client.get_historical_features(labels, features=all_features(client), out=out)
    column = pq.read_table(out).column("seen_at")
    assert str(column.type) == "timestamp[us, tz=UTC]"
    assert column.cast(pa.int64()).to_pylist() == [None if v is None else v // 1000 for v in values]


@pytest.mark.parametrize("given_as", ["parquet path", "DataFrame"])
def test_zoned_nanoseconds_below_the_microsecond_are_refused(client: Client, kfs: Kfs, tmp_path: Path, given_as: str) -> None:
    # A value with digits below the microsecond cannot be carried (the join engine reads zoned times
    # to the µs): the CLI refuses the column by name; the client neither truncates nor hides it.
    labels: Any = zoned_ns_labels(kfs, [1_780_000_000_123_456_789, None, 0])
    if given_as == "parquet path":
        path = tmp_path / "labels.parquet"
        pq.write_table(pa.Table.from_pandas(labels, preserve_index=False), path)
        labels = path
    with pytest.raises(KfsError, match="column seen_at holds nanosecond timestamps adjusted to UTC"):
        client.get_historical_features(labels, features=all_features(client), out=tmp_path / "training.parquet")


def wire_answer(kfs: Kfs, body: Dict[str, Any]) -> Dict[str, Any]:
    res = requests.post(f"{kfs.url}/v1/features", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    assert res.status_code == 200, res.text
    answer: Dict[str, Any] = json.loads(res.text)  # integers exact, -0.0 a float
    return answer


def kinds(kfs: Kfs, names: List[str]) -> Dict[str, str]:
    registry = requests.get(f"{kfs.url}/v1/registry", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10).json()
    types = {f"{v['name']}:{f['name']}": f["type"] for v in registry["views"] for f in v["features"]}
    types.update({r["name"]: r["outputType"] for r in registry["requestFeatures"]})
    return {name: types[name] for name in names}


def as_typed(kind: str, value: Any) -> Any:
    """The oracle: the wire's value as its kfs type's value (a double's integer digits are its float)."""
    if value is None:
        return None
    if kind.endswith("[]"):
        return [as_typed(kind[:-2], v) for v in value]
    return float(value) if kind == "double" else value


def test_online_frames_and_dicts_hold_the_wire_values(client: Client, kfs: Kfs) -> None:
    features = all_features(client)
    users = ["u0", "u1", "u2", "u3", "nobody", "u5"]
    entities = {"user_id": users, "item_id": ["i0"]}
    body = {"features": features, "entities": entities, "request": {"amount": 250}}
    answer = wire_answer(kfs, body)
    of = kinds(kfs, features)
    frame = client.get_online_features(features=features, entities=entities, request={"amount": 250})
    problems: List[str] = []
    for j, name in enumerate(features):
        want = [as_typed(of[name], r["values"][j]) for r in answer["rows"]]
        problems += [f"{name} ({of[name]}) {why}" for why in column_mismatches(of[name], list(frame[name]), want)]
        if of[name] == "long" and str(frame[name].dtype) != "Int64":
            problems.append(f"{name} is {frame[name].dtype}, not Int64")
    for i, user in enumerate(users):
        got = client.get_online_features_dict(features=features, entity={"user_id": user, "item_id": "i0"}, request={"amount": 250})
        one = wire_answer(kfs, {**body, "entities": {"user_id": [user], "item_id": ["i0"]}})["rows"][0]
        problems += [f"dict {user} {name}: {why}" for name, v in zip(features, one["values"]) if (why := mismatch(of[name], got[name], as_typed(of[name], v))) is not None]
    assert problems == [], "\n".join(problems)
    statuses = {r["views"]["user_purchases"]["status"] for r in answer["rows"]}
    assert {"PRESENT", "MISSING"} <= statuses, statuses
