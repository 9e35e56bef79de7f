"""Every value type kfs serves, on every online read path of the client, against its own oracle
(value_oracle.py): for each type — long, double, string, boolean (a request feature's), long[],
double[], string[] — and each shape of column — no nulls, some nulls, all nulls, extremes (±2^63 − 1
and ±2^53 ± 1 for a long, -0.0, subnormals, the largest double and whole doubles past 2^53 that serve
writes as integer digits; empty and non-BMP text; empty lists) — the DataFrame, the dict and the raw
answer hold what the JSON on the wire says, read with exact integers, each view's status and as_of
(MISSING, OUTSIDE_TTL; as_of up to ±(2^53 − 1) ms) included. NaN and ±Infinity are not in the table:
JSON cannot carry them and no kfs row holds one (docs/semantics.md §2, §18).

A stub server (stub_server.py) sends the wire text, so the extremes a real kfs would have to be
driven to are there; test_value_types_served.py checks the same against a real kfs serve and the
training set's Parquet."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

import pandas as pd
import pytest

from kfs import Client

from stub_server import Reply, Stub, json_reply, stub  # noqa: F401  (stub is a fixture)
from value_oracle import column_mismatches, js_number, mismatch

FEATURES = {"long": "v:l", "double": "v:d", "string": "v:s", "long[]": "v:ll", "double[]": "v:dl", "string[]": "v:sl", "boolean": "flag"}
REGISTRY = {
    "views": [
        {
            "name": "v",
            "version": 1,
            "entity": {"name": "num", "joinKeys": ["num"], "keyType": "int"},
            "source": {"name": "src", "topic": "t"},
            "features": [{"name": n.split(":")[1], "type": k, "op": "last", "windowMs": None} for k, n in FEATURES.items() if ":" in n],
            "ttlMs": 60_000,
            "freshnessSlaMs": None,
            "owner": "",
            "description": "",
            "tags": {},
        }
    ],
    "services": [],
    "requestFeatures": [{"name": "flag", "request": {"on": "boolean"}, "features": [], "outputType": "boolean", "description": ""}],
}

SAFE = 2**53
LONG_MAX = 2**63 - 1
EXTREME_LONGS = [LONG_MAX, -LONG_MAX, -(2**63), SAFE + 1, SAFE - 1, -(SAFE + 1), -(SAFE - 1), 0]
EXTREME_DOUBLES = [-0.0, 0.0, 5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 2.0**60, 1e20, float(SAFE + 2), 1e21, 3.0]
EXTREME_STRINGS = ["", "😀𝄞 non-BMP", "日本", "a\u0000b", '"\\']

# kind → shape → the values of one column, one per entity row (exact Python values).
COLUMNS: Dict[str, Dict[str, List[Any]]] = {
    "long": {
        "no nulls": [0, 1, -7, SAFE - 1],
        "some nulls": [SAFE + 1, None, -(SAFE + 1)],
        "all nulls": [None, None],
        "extremes": [*EXTREME_LONGS, None],
        "extremes, no nulls": EXTREME_LONGS,
    },
    "double": {
        "no nulls": [0.5, 3.0, -2.25],
        "some nulls": [0.5, None, 3.0],
        "all nulls": [None, None],
        "extremes": [*EXTREME_DOUBLES, None],
        "extremes, no nulls": EXTREME_DOUBLES,
    },
    "string": {
        "no nulls": ["a", "b"],
        "some nulls": ["héllo", None],
        "all nulls": [None, None],
        "extremes": [*EXTREME_STRINGS, None],
    },
    "boolean": {
        "no nulls": [True, False],
        "some nulls": [True, None, False],
        "all nulls": [None, None],
    },
    "long[]": {
        "no nulls": [[1, 2], [], [LONG_MAX, -(2**63)]],
        "some nulls": [[SAFE + 1], None, []],
        "all nulls": [None, None],
        "null elements": [[SAFE + 1, None, -(SAFE + 1)], [None], []],
    },
    "double[]": {
        "no nulls": [[0.5, 3.0], []],
        "some nulls": [None, [-0.0, 2.0**60, 5e-324]],
        "all nulls": [None, None],
    },
    "string[]": {
        "no nulls": [["", "😀"], []],
        "some nulls": [None, ["x", "𝄞"]],
        "all nulls": [None, None],
    },
}
CASES: List[Tuple[str, str]] = [(kind, shape) for kind, shapes in COLUMNS.items() for shape in shapes]
AS_OF = 1_780_000_000_123
# as_of as a view's state may hold it: today, the ends of a safe integer (event times are within
# ±2^53 ms: far past a datetime's year 9999), the epoch, just before it.
AS_OFS = [AS_OF, SAFE - 1, -(SAFE - 1), 0, -1]
# Where each kind's column must land, whatever it holds: its dtype follows its type alone.
DTYPES = {"long": "Int64", "double": "float64", "boolean": "boolean", "long[]": "object", "double[]": "object", "string[]": "object"}


def wire(kind: str, value: Any) -> str:
    """A value's JSON text as serve writes it."""
    if value is None:
        return "null"
    if kind.endswith("[]"):
        return "[" + ",".join(wire(kind[:-2], v) for v in value) + "]"
    if kind == "double":
        return js_number(value)
    return json.dumps(value, ensure_ascii=False)


def view_state(kind: str, i: int, value: Any, as_of: int) -> Dict[str, Any]:
    """The state of view v in row i: PRESENT with a value; MISSING or OUTSIDE_TTL (in turn) without."""
    if kind == "boolean":
        return {}  # a request feature reads no view
    if value is not None:
        return {"v": {"status": "PRESENT", "as_of": as_of, "age_ms": 5}}
    if i % 2 == 0:
        return {"v": {"status": "MISSING", "as_of": None, "age_ms": None}}
    return {"v": {"status": "OUTSIDE_TTL", "as_of": as_of, "age_ms": 120_000}}


def entity(i: int) -> int:
    return 2**62 + 2 * i + 1  # an int entity's key a double cannot hold


def answer_text(kind: str, values: List[Any], rows: List[int], as_ofs: List[int]) -> str:
    out = []
    for i in rows:
        views = json.dumps(view_state(kind, i, values[i], as_ofs[i % len(as_ofs)]))
        out.append(f'{{"entities":{{"num":{entity(i)}}},"values":[{wire(kind, values[i])}],"views":{views}}}')
    return f'{{"features":["{FEATURES[kind]}"],"rows":[{",".join(out)}]}}'


def expected(kind: str, wire_value: Any) -> Any:
    """The oracle: the wire's value (exact JSON) as its kfs type's value — a double's integer digits are its float."""
    if wire_value is None:
        return None
    if kind.endswith("[]"):
        return [expected(kind[:-2], v) for v in wire_value]
    return float(wire_value) if kind == "double" else wire_value


def as_of_ms(cell: Any) -> Any:
    return None if cell is None or cell is pd.NaT else int(pd.Timestamp(cell).as_unit("ms").asm8.view("i8"))


def serve(stub: Stub, kind: str, values: List[Any], rows: List[int], as_ofs: List[int] = [AS_OF]) -> Dict[str, Any]:
    text = answer_text(kind, values, rows, as_ofs)
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    stub.set("POST", "/v1/features", Reply(200, text.encode()))
    answer: Dict[str, Any] = json.loads(text)  # Python's json: integers exact, -0.0 a float
    return answer


@pytest.mark.parametrize("kind,shape", CASES, ids=[f"{k} {s}" for k, s in CASES])
def test_the_frame_holds_the_wire_values(stub: Stub, kind: str, shape: str) -> None:
    values = COLUMNS[kind][shape]
    rows = list(range(len(values)))
    answer = serve(stub, kind, values, rows)
    name = FEATURES[kind]
    frame = Client(stub.url).get_online_features(features=[name], entities={"num": [entity(i) for i in rows]})
    want = [expected(kind, r["values"][0]) for r in answer["rows"]]
    assert column_mismatches(kind, list(frame[name]), want) == []
    if kind in DTYPES:
        assert str(frame[name].dtype) == DTYPES[kind], f"{kind} {shape}: {frame[name].dtype}"
    else:
        assert pd.api.types.is_string_dtype(frame[name].dtype), frame[name].dtype
    assert column_mismatches("long", list(frame["num"]), [entity(i) for i in rows]) == []
    if kind != "boolean":
        assert list(frame["v.status"]) == [r["views"]["v"]["status"] for r in answer["rows"]]
        assert [as_of_ms(c) for c in frame["v.as_of"]] == [r["views"]["v"]["as_of"] for r in answer["rows"]]


@pytest.mark.parametrize("kind,shape", CASES, ids=[f"{k} {s}" for k, s in CASES])
def test_the_dict_and_the_raw_answer_hold_the_wire_values(stub: Stub, kind: str, shape: str) -> None:
    values = COLUMNS[kind][shape]
    name = FEATURES[kind]
    client = Client(stub.url)
    for i in range(len(values)):
        answer = serve(stub, kind, values, [i])
        got = client.get_online_features_dict(features=[name], entity={"num": entity(i)})
        why = mismatch(kind, got[name], expected(kind, answer["rows"][0]["values"][0]))
        assert why is None, f"row {i}: {why}"
        assert mismatch("long", got["num"], entity(i)) is None
        for view, state in answer["rows"][0]["views"].items():
            assert got[f"{view}.status"] == state["status"]
            assert as_of_ms(got[f"{view}.as_of"]) == state["as_of"]
        raw = client.get_online_features_response(features=[name], entities={"num": [entity(i)]})
        # json.dumps tells 3 from 3.0 and -0.0 from 0: the raw answer is the wire's, type for type.
        assert json.dumps(raw, ensure_ascii=False) == json.dumps(answer, ensure_ascii=False)


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_a_columns_dtype_follows_its_type_not_its_values(stub: Stub, kind: str) -> None:
    dtypes = {}
    for shape, values in COLUMNS[kind].items():
        serve(stub, kind, values, list(range(len(values))))
        frame = Client(stub.url).get_online_features(features=[FEATURES[kind]], entities={"num": [entity(i) for i in range(len(values))]})
        dtypes[shape] = str(frame[FEATURES[kind]].dtype)
    assert len(set(dtypes.values())) == 1, dtypes


def test_status_and_as_of_hold_the_wire_values_to_the_ms(stub: Stub) -> None:
    """as_of on every path, as far as an event time goes: the dict's used to be a datetime of
    as_of / 1000, a float (µs off far from 1970) that ends at year 9999 (a ValueError past it)."""
    values: List[Any] = [1, None, 2, None, 3]  # PRESENT, MISSING, PRESENT, OUTSIDE_TTL, PRESENT
    rows = list(range(len(values)))
    client = Client(stub.url)
    for shift in range(len(AS_OFS)):
        as_ofs = AS_OFS[shift:] + AS_OFS[:shift]
        answer = serve(stub, "long", values, rows, as_ofs)
        frame = client.get_online_features(features=["v:l"], entities={"num": [entity(i) for i in rows]})
        assert [as_of_ms(c) for c in frame["v.as_of"]] == [r["views"]["v"]["as_of"] for r in answer["rows"]]
        assert list(frame["v.status"]) == [r["views"]["v"]["status"] for r in answer["rows"]]
        for i in rows:
            one = serve(stub, "long", values, [i], as_ofs)["rows"][0]["views"]["v"]
            got = client.get_online_features_dict(features=["v:l"], entity={"num": entity(i)})
            assert (got["v.status"], as_of_ms(got["v.as_of"])) == (one["status"], one["as_of"]), (i, as_ofs)
