"""What the client makes of every answer a server, a proxy or a network can give, against a stub
server (stub_server.py) that answers byte for byte what each case sets:

- every value type kfs serves comes back faithfully in the DataFrame and the dict — longs beyond
  2^53, -0.0 (written ``-0.0`` by serve), null (a view not PRESENT), empty lists, unicode keys and
  values — with each view's status and as_of;
- every failure — each error body kfs sends (the 500s STORED_ROW_UNREADABLE, STORE_READ_REFUSED
  and DATA_CORRUPT included), a proxy's HTML page, a 2xx that is not JSON or not a feature answer,
  a body cut short, no answer, nothing listening — is a KfsError with a code, never a KeyError,
  TypeError, JSON or pyarrow error."""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, List

import numpy as np
import pandas as pd
import pytest

from kfs import BadRequestError, Client, KfsError, NotFoundError, ServerError, TooLargeError, UnavailableError

from stub_server import Reply, Stub, json_reply, stub  # noqa: F401  (stub is a fixture)

TYPES = {"l": "long", "d": "double", "s": "string", "ll": "long[]", "dl": "double[]", "sl": "string[]"}


def view(name: str, version: int, features: Dict[str, str], key: str = "id", key_type: str = "string") -> Dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "entity": {"name": key, "joinKeys": [key], "keyType": key_type},
        "source": {"name": "src", "topic": "t"},
        "features": [{"name": f, "type": t, "op": "last", "windowMs": None} for f, t in features.items()],
        "ttlMs": 60_000,
        "freshnessSlaMs": None,
        "owner": "",
        "description": "",
        "tags": {},
    }


REGISTRY = {
    "views": [view("v", 1, TYPES), view("w", 3, {"n": "long"}, key="num", key_type="int")],
    "services": [{"name": "svc", "features": [f"v:{f}" for f in TYPES], "requestFeatures": ["flag"], "owner": "", "description": ""}],
    "requestFeatures": [{"name": "flag", "request": {"on": "boolean"}, "features": [], "outputType": "boolean", "description": ""}],
}

NAMES = [f"v:{f}" for f in TYPES]
BIG = 2**53 + 1
AS_OF = 1_780_000_000_123


def row(entity: Dict[str, Any], values: List[Any], status: str = "PRESENT") -> Dict[str, Any]:
    as_of = None if status == "MISSING" else AS_OF
    return {"entities": entity, "values": values, "views": {"v": {"status": status, "as_of": as_of, "age_ms": None if as_of is None else 5}}}


# Each value case: the JSON text serve writes for one row's values (as its own text, so -0.0 is
# what goes over the wire), and what the frame and the dict must then hold.
VALUE_ROWS = [
    ("present", "PRESENT", '[9007199254740993, 2.5, "héllo ✓", [1, 9007199254740993], [0.5, -0.0], ["a", "日本"]]'),
    ("negative zero", "PRESENT", "[0, -0.0, \"\", [], [-0.0], []]"),
    ("empty lists", "PRESENT", '[1, 1e300, "x", [], [], []]'),
    ("outside ttl", "OUTSIDE_TTL", "[null, null, null, null, null, null]"),
    ("missing", "MISSING", "[null, null, null, null, null, null]"),
]


def answer_text(keys: List[str]) -> str:
    rows = []
    for key, (_, status, values) in zip(keys, VALUE_ROWS):
        as_of = "null" if status == "MISSING" else str(AS_OF)
        rows.append(f'{{"entities":{{"id":{json_dumps(key)}}},"values":{values},"views":{{"v":{{"status":"{status}","as_of":{as_of},"age_ms":null}}}}}}')
    return f'{{"features":{json_dumps(NAMES)},"rows":[{",".join(rows)}]}}'


def json_dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def exact(a: Any, b: Any) -> bool:
    """Equal, with -0.0 told from 0.0 and a list compared element by element the same way."""
    if isinstance(b, list):
        return a is not None and len(a) == len(b) and all(exact(x, y) for x, y in zip(list(a), b))
    if isinstance(b, float):
        return isinstance(a, float) and a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b) and type(a) is type(b) if not hasattr(a, "item") else exact(a.item(), b)


def test_every_value_type_round_trips_into_the_frame_and_the_dict(stub: Stub) -> None:
    import json

    keys = ["ü-1", "用户", "a b", "'\"", "z"]
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    stub.set("POST", "/v1/features", Reply(200, answer_text(keys).encode()))
    client = Client(stub.url)
    frame = client.get_online_features(features=NAMES, entities={"id": keys})
    answer = json.loads(answer_text(keys))
    assert list(frame.columns) == ["id", *NAMES, "v.status", "v.as_of"]
    assert list(frame["id"]) == keys
    for i, r in enumerate(answer["rows"]):
        for name, value in zip(NAMES, r["values"]):
            cell = frame[name].iloc[i]
            if value is None:
                assert cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)), (VALUE_ROWS[i][0], name, cell)
            else:
                assert exact(cell, value), (VALUE_ROWS[i][0], name, cell, value)
        assert frame["v.status"].iloc[i] == r["views"]["v"]["status"]
        as_of = frame["v.as_of"].iloc[i]
        assert (as_of is pd.NaT) if r["views"]["v"]["as_of"] is None else (as_of.value // 1_000_000 == AS_OF and str(as_of.tz) == "UTC")
    # The dict is the JSON answer, value for value (-0.0 and 2^53 + 1 included).
    for i, key in enumerate(keys):
        stub.set("POST", "/v1/features", Reply(200, answer_text([key]).encode()))
        got = client.get_online_features_dict(features=NAMES, entity={"id": key})
        one = json.loads(answer_text([key]))["rows"][0]
        for name, value in zip(NAMES, one["values"]):
            assert (got[name] is None) if value is None else exact(got[name], value), (name, got[name], value)
        assert got["v.status"] == one["views"]["v"]["status"]


def test_a_long_column_without_nulls_keeps_longs_beyond_2_53_exact(stub: Stub) -> None:
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    values = [BIG, -BIG, 2**62]
    stub.set("POST", "/v1/features", json_reply({"features": ["v:l"], "rows": [row({"id": str(i)}, [v]) for i, v in enumerate(values)]}))
    frame = Client(stub.url).get_online_features(features=["v:l"], entities={"id": ["0", "1", "2"]})
    assert str(frame["v:l"].dtype) == "Int64"
    assert [int(x) for x in frame["v:l"]] == values


def features_answer(values: List[Any], names: List[str] = ["v:l"]) -> Dict[str, Any]:
    return {"features": names, "rows": [row({"id": "a"}, values)]}


# A value of a type its feature cannot hold: converting it would change it (1.5 read as the long 1)
# or fail inside pyarrow, so it is a BAD_RESPONSE naming the feature.
ILL_TYPED = [
    ("fraction for a long", ["v:l"], [1.5]),
    ("text for a long", ["v:l"], ["7"]),
    ("boolean for a long", ["v:l"], [True]),
    ("text for a double", ["v:d"], ["2.5"]),
    ("number for a string", ["v:s"], [3]),
    ("scalar for a list", ["v:ll"], [3]),
    ("fraction inside a long list", ["v:ll"], [[1, 2.5]]),
    ("number inside a string list", ["v:sl"], [["a", 1]]),
    ("number for a boolean", ["flag"], [1]),
]


@pytest.mark.parametrize("case,names,values", ILL_TYPED, ids=[c[0] for c in ILL_TYPED])
def test_a_value_its_type_cannot_hold_is_a_bad_response_not_a_changed_value(stub: Stub, case: str, names: List[str], values: List[Any]) -> None:
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    stub.set("POST", "/v1/features", json_reply(features_answer(values, names)))
    with pytest.raises(KfsError) as caught:
        Client(stub.url).get_online_features(features=names, entities={"id": ["a"]})
    assert caught.value.code == "BAD_RESPONSE", caught.value
    assert names[0] in str(caught.value)


def test_a_feature_the_kept_registry_does_not_know_refreshes_it(stub: Stub) -> None:
    """A view applied after the client read the registry: its double 3 stays a double (as the
    training set has it), not an integer column guessed from the values."""
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    client = Client(stub.url)
    client.list_views()
    newer = {**REGISTRY, "views": [*REGISTRY["views"], view("x", 1, {"avg": "double"})]}
    stub.set("GET", "/v1/registry", json_reply(newer))
    stub.set("POST", "/v1/features", json_reply({"features": ["x:avg"], "rows": [row({"id": "a"}, [3])] }))
    frame = client.get_online_features(features=["x:avg"], entities={"id": ["a"]})
    assert str(frame["x:avg"].dtype) == "float64"
    assert client.describe("x").features[0].type == "double"


def test_duplicate_entities_give_one_row_each(stub: Stub) -> None:
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    stub.set("POST", "/v1/features", json_reply({"features": ["v:l"], "rows": [row({"id": "a"}, [1]), row({"id": "a"}, [1])]}))
    frame = Client(stub.url).get_online_features(features=["v:l"], entities={"id": ["a", "a"]})
    assert list(frame["id"]) == ["a", "a"] and list(frame["v:l"]) == [1, 1]
    assert [body for method, _, body in stub.requests if method == "POST"] == [{"entities": {"id": ["a", "a"]}, "features": ["v:l"]}]


GOOD = features_answer([1])

# 2xx answers that are not a feature answer (a proxy's page, a cut body, another service's JSON).
NOT_AN_ANSWER = [
    ("html", Reply(200, b"<html><body>Welcome to nginx</body></html>", "text/html")),
    ("plain text", Reply(200, b"ok", "text/plain")),
    ("empty body", Reply(200, b"")),
    ("json list", json_reply([1, 2])),
    ("json string", json_reply("fine")),
    ("no rows", json_reply({"features": ["v:l"]})),
    ("no features", json_reply({"rows": GOOD["rows"]})),
    ("rows not a list", json_reply({"features": ["v:l"], "rows": {"0": 1}})),
    ("row not an object", json_reply({"features": ["v:l"], "rows": [[1]]})),
    ("row without values", json_reply({"features": ["v:l"], "rows": [{"entities": {"id": "a"}, "views": {}}]})),
    ("fewer values than features", json_reply({"features": ["v:l", "v:d"], "rows": [row({"id": "a"}, [1])]})),
    ("row without entities", json_reply({"features": ["v:l"], "rows": [{"values": [1], "views": {}}]})),
    ("view state not an object", json_reply({"features": ["v:l"], "rows": [{"entities": {"id": "a"}, "values": [1], "views": {"v": "PRESENT"}}]})),
    ("unknown status", json_reply({"features": ["v:l"], "rows": [{"entities": {"id": "a"}, "values": [1], "views": {"v": {"status": "STALE", "as_of": 1}}}]})),
    ("as_of not a number", json_reply({"features": ["v:l"], "rows": [{"entities": {"id": "a"}, "values": [1], "views": {"v": {"status": "PRESENT", "as_of": "2026"}}}]})),
    ("fewer rows than entities", json_reply({"features": ["v:l"], "rows": []})),
    ("body cut short", Reply(200, b'{"features":["v:l"],"rows":[', cut_short=True)),
]

# Error answers: the class and code the client raises, with the context the body gave.
ERRORS = [
    ("stored row unreadable", json_reply({"error": {"code": "STORED_ROW_UNREADABLE", "message": "the stored row of view v could not be read", "reason": "corrupt", "view": "v", "errorId": "e1"}}, 500), ServerError, "STORED_ROW_UNREADABLE", {"reason": "corrupt", "view": "v"}),
    ("store read refused", json_reply({"error": {"code": "STORE_READ_REFUSED", "message": "refused", "key": "a/b", "errorId": "e2"}}, 500), ServerError, "STORE_READ_REFUSED", {"key": "a/b"}),
    ("data corrupt", json_reply({"error": {"code": "DATA_CORRUPT", "message": "not what kfs wrote", "errorId": "e3"}}, 500), ServerError, "DATA_CORRUPT", {}),
    ("request feature failed", json_reply({"error": {"code": "REQUEST_FEATURE_FAILED", "message": "f failed", "feature": "f"}}, 500), ServerError, "REQUEST_FEATURE_FAILED", {"feature": "f"}),
    ("internal", json_reply({"error": {"code": "INTERNAL", "message": "internal error"}}, 500), ServerError, "INTERNAL", {}),
    ("shutting down", json_reply({"error": {"code": "SHUTTING_DOWN", "message": "bye"}}, 503), UnavailableError, "SHUTTING_DOWN", {}),
    ("batch too large", json_reply({"error": {"code": "BATCH_TOO_LARGE", "message": "split"}}, 413), TooLargeError, "BATCH_TOO_LARGE", {}),
    ("bad request", json_reply({"error": {"code": "BAD_REQUEST", "message": "no", "field": "x"}}, 400), BadRequestError, "BAD_REQUEST", {"field": "x"}),
    ("not found", json_reply({"error": {"code": "NOT_FOUND", "message": "no", "view": "q"}}, 404), NotFoundError, "NOT_FOUND", {"view": "q"}),
    ("conflict", json_reply({"error": {"code": "BACKFILL_INCOMPLETE", "message": "wait"}}, 409), KfsError, "BACKFILL_INCOMPLETE", {}),
    ("error body without a code", json_reply({"error": {"message": "odd"}}, 500), ServerError, "HTTP_ERROR", {}),
    ("error not an object", json_reply({"error": "odd"}, 400), BadRequestError, "HTTP_ERROR", {}),
    ("proxy html 502", Reply(502, b"<html><title>502 Bad Gateway</title></html>", "text/html"), ServerError, "HTTP_ERROR", {}),
    ("proxy html 504", Reply(504, b"<html>Gateway Time-out</html>", "text/html"), ServerError, "HTTP_ERROR", {}),
    ("error cut short", Reply(500, b'{"error":{"code":"INT', cut_short=True), KfsError, "UNREACHABLE", {}),
]

CALLS: Dict[str, Callable[[Client], Any]] = {
    "get_online_features": lambda c: c.get_online_features(features=["v:l"], entities={"id": ["a"]}),
    "get_online_features_dict": lambda c: c.get_online_features_dict(features=["v:l"], entity={"id": "a"}),
    "get_online_features_response": lambda c: c.get_online_features_response(features=["v:l"], entities={"id": ["a"]}),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("case,reply", NOT_AN_ANSWER, ids=[c[0] for c in NOT_AN_ANSWER])
def test_a_2xx_that_is_not_a_feature_answer_is_a_bad_response(stub: Stub, call: str, case: str, reply: Reply) -> None:
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    stub.set("POST", "/v1/features", reply)
    with pytest.raises(KfsError) as caught:
        CALLS[call](Client(stub.url))
    assert caught.value.code == ("UNREACHABLE" if reply.cut_short else "BAD_RESPONSE"), caught.value
    assert type(caught.value) is KfsError


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("case,reply,cls,code,details", ERRORS, ids=[c[0] for c in ERRORS])
def test_every_error_answer_is_its_exception_with_its_code(stub: Stub, call: str, case: str, reply: Reply, cls: type, code: str, details: Dict[str, Any]) -> None:
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    stub.set("POST", "/v1/features", reply)
    with pytest.raises(KfsError) as caught:
        CALLS[call](Client(stub.url))
    err = caught.value
    assert isinstance(err, cls) and err.code == code, (type(err).__name__, err.code, err)
    assert dict(err.details) == details
    if reply.content_type == "text/html":
        # A proxy's page says what happened: its start is in the message.
        assert reply.body[:20].decode() in err.message


REGISTRY_CALLS: Dict[str, Callable[[Client], Any]] = {
    "list_views": lambda c: c.list_views(),
    "describe": lambda c: c.describe("v"),
    "list_services": lambda c: c.list_services(),
}

NOT_A_REGISTRY = [
    ("html", Reply(200, b"<html></html>", "text/html")),
    ("json list", json_reply([])),
    ("views not a list", json_reply({"views": {"v": 1}})),
    ("view without name", json_reply({"views": [{"version": 1}]})),
    ("service without features", json_reply({"views": [], "services": [{"name": "s"}]})),
]


@pytest.mark.parametrize("call", sorted(REGISTRY_CALLS))
@pytest.mark.parametrize("case,reply", NOT_A_REGISTRY, ids=[c[0] for c in NOT_A_REGISTRY])
def test_a_registry_answer_that_is_not_a_registry_is_a_bad_response(stub: Stub, call: str, case: str, reply: Reply) -> None:
    stub.set("GET", "/v1/registry", reply)
    with pytest.raises(KfsError) as caught:
        REGISTRY_CALLS[call](Client(stub.url))
    assert caught.value.code == "BAD_RESPONSE", caught.value


@pytest.mark.parametrize("call", sorted({**CALLS, **REGISTRY_CALLS}))
def test_no_answer_in_time_and_nothing_listening_are_unreachable(stub: Stub, call: str) -> None:
    stub.set("GET", "/v1/registry", Reply(hang=True))
    stub.set("POST", "/v1/features", Reply(hang=True))
    with pytest.raises(KfsError) as late:
        {**CALLS, **REGISTRY_CALLS}[call](Client(stub.url, timeout=0.3))
    assert late.value.code == "UNREACHABLE" and "timed out" in late.value.message.lower(), late.value
    with pytest.raises(KfsError) as down:
        {**CALLS, **REGISTRY_CALLS}[call](Client("http://127.0.0.1:9", timeout=2))
    assert down.value.code == "UNREACHABLE"


# Entities and request inputs as notebooks hold them: each is sent as the plain JSON values it
# stands for (numpy's scalars are not JSON to `json`, and a numpy scalar is not a list).
ENTITY_INPUTS = [
    ("list", [7, 8], [7, 8]),
    ("tuple", ("a", "b"), ["a", "b"]),
    ("range", range(2), [0, 1]),
    ("numpy int64 array", np.array([7, 2**62], dtype=np.int64), [7, 2**62]),
    ("numpy str array", np.array(["a", "b"]), ["a", "b"]),
    ("pandas int Series", pd.Series([7, 8]), [7, 8]),
    ("pandas nullable Int64 Series", pd.Series([7, 8], dtype="Int64"), [7, 8]),
    ("pandas string Series", pd.Series(["a", "ü"], dtype="string"), ["a", "ü"]),
    ("pandas Index", pd.Index([7, 8]), [7, 8]),
    ("numpy int64 scalar", np.int64(7), [7]),
    ("numpy str scalar", np.str_("a"), ["a"]),
]


@pytest.mark.parametrize("case,given,sent", ENTITY_INPUTS, ids=[c[0] for c in ENTITY_INPUTS])
def test_entities_as_notebooks_hold_them_are_sent_as_plain_json(stub: Stub, case: str, given: Any, sent: List[Any]) -> None:
    stub.set("POST", "/v1/features", json_reply({"features": ["w:n"], "rows": [row({"num": v}, [1]) for v in sent]}))
    Client(stub.url).get_online_features_response(features=["w:n"], entities={"num": given}, request={"i": np.int64(3), "d": np.float64(0.5), "b": np.bool_(True), "s": np.str_("x")})
    assert stub.requests[-1][2] == {"entities": {"num": sent}, "features": ["w:n"], "request": {"i": 3, "d": 0.5, "b": True, "s": "x"}}
    body = stub.requests[-1][2]
    assert body is not None and [type(v) for v in body["request"].values()] == [int, float, bool, str]


def test_a_single_entity_given_as_a_numpy_scalar_is_one_entity(stub: Stub) -> None:
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    stub.set("POST", "/v1/features", json_reply({"features": ["w:n"], "rows": [row({"num": 7}, [1])]}))
    got = Client(stub.url).get_online_features_dict(features=["w:n"], entity={"num": np.int64(7)})
    assert got["w:n"] == 1
    assert [body for method, _, body in stub.requests if method == "POST"] == [{"entities": {"num": [7]}, "features": ["w:n"]}]


MISSING_MARKERS = [
    ("pandas NA in a nullable Series", {"num": pd.Series([7, None], dtype="Int64")}, None, {"num": [7, None]}),
    ("NaN in a float list", {"num": [7.0, float("nan")]}, None, "entities['num'][1] is nan"),
    ("Infinity in a numpy array", {"num": np.array([np.inf])}, None, "entities['num'][0] is inf"),
    ("NaN as a request input", {"num": [7]}, {"d": float("nan")}, "request['d'] is nan"),
]


@pytest.mark.parametrize("case,entities,request_inputs,expected", MISSING_MARKERS, ids=[c[0] for c in MISSING_MARKERS])
def test_missing_markers_are_null_and_nan_is_refused_naming_where(stub: Stub, case: str, entities: Dict[str, Any], request_inputs: Any, expected: Any) -> None:
    stub.set("POST", "/v1/features", json_reply({"error": {"code": "BAD_REQUEST", "message": "num values must be strings or integers"}}, 400))
    client = Client(stub.url)
    call = lambda: client.get_online_features_response(features=["w:n"], entities=entities, request=request_inputs)  # noqa: E731
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=re.escape(expected)):
            call()
        assert stub.requests == []
    else:
        # Sent as null: the server's refusal says what it needed.
        with pytest.raises(BadRequestError):
            call()
        assert stub.requests[-1][2] == {"entities": expected, "features": ["w:n"]}


def test_describe_of_a_view_applied_since_the_registry_was_read_finds_it(stub: Stub) -> None:
    stub.set("GET", "/v1/registry", json_reply(REGISTRY))
    client = Client(stub.url)
    assert [v.name for v in client.list_views()] == ["v", "w"]
    stub.set("GET", "/v1/registry", json_reply({**REGISTRY, "views": [*REGISTRY["views"], view("x", 2, {"avg": "double"})]}))
    assert client.describe("x").ref == "x@2"
    assert client.describe("x@2").features[0].type == "double"
    with pytest.raises(NotFoundError):
        client.describe("nope")
