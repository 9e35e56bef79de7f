"""Online retrieval: the client's DataFrame and dict hold exactly the HTTP answer of kfs serve."""

from __future__ import annotations

import math
import random
from typing import Any, Dict, List

import pandas as pd
import pytest
import requests

from kfs import BadRequestError, Client, KfsError, NotFoundError, TooLargeError, UnauthorizedError

from conftest import API_KEY, Kfs


def http_answer(kfs: Kfs, body: Dict[str, Any]) -> Dict[str, Any]:
    res = requests.post(f"{kfs.url}/v1/features", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    assert res.status_code == 200, res.text
    answer: Dict[str, Any] = res.json()
    return answer


def same(cell: Any, value: Any) -> bool:
    """A DataFrame cell against a JSON value: null is None/NaN/NaT; lists compare element-wise."""
    if value is None:
        return cell is None or cell is pd.NA or cell is pd.NaT or (isinstance(cell, float) and math.isnan(cell))
    if isinstance(value, list):
        return list(cell) == value
    return bool(cell == value)


def assert_frame_is_answer(frame: pd.DataFrame, answer: Dict[str, Any]) -> None:
    rows: List[Dict[str, Any]] = answer["rows"]
    assert len(frame) == len(rows)
    view_keys = list(rows[0]["views"]) if rows else []
    keys = list(rows[0]["entities"]) if rows else []
    expected_columns = keys + answer["features"] + [f"{v}.{c}" for v in view_keys for c in ("status", "as_of")]
    assert list(frame.columns) == expected_columns
    for i, row in enumerate(rows):
        for k, v in row["entities"].items():
            assert frame[k].iloc[i] == v
        for name, value in zip(answer["features"], row["values"]):
            assert same(frame[name].iloc[i], value), (i, name, frame[name].iloc[i], value)
        for view, state in row["views"].items():
            assert frame[f"{view}.status"].iloc[i] == state["status"]
            as_of = frame[f"{view}.as_of"].iloc[i]
            if state["as_of"] is None:
                assert as_of is pd.NaT
            else:
                assert str(as_of.tz) == "UTC"
                assert as_of.value // 1_000_000 == state["as_of"]


def test_service_frame_equals_the_http_answer(client: Client, kfs: Kfs) -> None:
    users = ["u0", "u1", "u2"] + [f"u{i}" for i in random.Random(5).sample(range(3, 300), 40)] + ["nobody"]
    frame = client.get_online_features(service="fraud_model", entities={"user_id": users}, request={"amount": 250})
    answer = http_answer(kfs, {"service": "fraud_model", "entities": {"user_id": users}, "request": {"amount": 250}})
    assert_frame_is_answer(frame, answer)
    statuses = set(frame["user_purchases.status"])
    assert "PRESENT" in statuses and "MISSING" in statuses, statuses
    # Values are typed as the registry says: counts stay integers where present.
    assert frame.loc[frame["user_purchases.status"] == "PRESENT", "user_purchases:count"].notna().all()


def test_features_across_entities_and_list_values(client: Client, kfs: Kfs) -> None:
    features = [*client.describe("user_clicks").feature_refs(), "item_clicks:count_1h"]
    assert any(f.type == "string[]" for f in client.describe("user_clicks").features)
    entities = {"user_id": ["u0", "u1", "u2", "zz"], "item_id": ["i0"]}
    frame = client.get_online_features(features=features, entities=entities)
    answer = http_answer(kfs, {"features": features, "entities": entities})
    assert_frame_is_answer(frame, answer)
    assert list(frame["item_id"]) == ["i0"] * 4


def test_single_entity_dict_equals_the_http_answer(client: Client, kfs: Kfs) -> None:
    got = client.get_online_features_dict(service="fraud_model", entity={"user_id": "u0"}, request={"amount": 12.5})
    answer = http_answer(kfs, {"service": "fraud_model", "entities": {"user_id": ["u0"]}, "request": {"amount": 12.5}})
    row = answer["rows"][0]
    expected: Dict[str, Any] = {"user_id": "u0", **dict(zip(answer["features"], row["values"]))}
    for view, state in row["views"].items():
        expected[f"{view}.status"] = state["status"]
        expected[f"{view}.as_of"] = state["as_of"]
    as_ofs = {k: v for k, v in got.items() if k.endswith(".as_of")}
    assert {k: (None if v is None else round(v.timestamp() * 1000)) for k, v in as_ofs.items()} == {k: expected[k] for k in as_ofs}
    assert {k: v for k, v in got.items() if k not in as_ofs} == {k: v for k, v in expected.items() if k not in as_ofs}


def test_views_and_describe_are_the_registry(client: Client, kfs: Kfs) -> None:
    registry = requests.get(f"{kfs.url}/v1/registry", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10).json()
    views = client.list_views()
    assert [(v.name, v.version) for v in views] == [(v["name"], v["version"]) for v in registry["views"]]
    purchases = client.describe("user_purchases")
    expected = next(v for v in registry["views"] if v["name"] == "user_purchases")
    assert purchases.join_keys == tuple(expected["entity"]["joinKeys"])
    assert [(f.name, f.type) for f in purchases.features] == [(f["name"], f["type"]) for f in expected["features"]]
    assert client.describe(f"user_purchases@{expected['version']}") == purchases
    with pytest.raises(NotFoundError) as caught:
        client.describe("no_such_view")
    assert caught.value.code == "NOT_FOUND"


def test_errors_carry_kfs_codes(client: Client, kfs: Kfs) -> None:
    with pytest.raises(NotFoundError) as not_found:
        client.get_online_features(service="no_such_service", entities={"user_id": ["u0"]})
    assert (not_found.value.code, not_found.value.status, not_found.value.details) == ("NOT_FOUND", 404, {"service": "no_such_service"})
    with pytest.raises(BadRequestError) as bad:
        client.get_online_features(service="fraud_model", entities={"user_id": ["u0"]})
    assert bad.value.code == "BAD_REQUEST" and bad.value.details["field"] == "amount"
    with pytest.raises(UnauthorizedError) as unauthorized:
        Client(kfs.url, api_key="wrong-key-wrong-key").list_views()
    assert unauthorized.value.code == "UNAUTHORIZED"
    with pytest.raises(KfsError) as unreachable:
        Client("http://127.0.0.1:9", timeout=2).list_views()
    assert unreachable.value.code == "UNREACHABLE"
    with pytest.raises(ValueError):
        client.get_online_features(service="fraud_model", features=["user_purchases:count"], entities={"user_id": ["u0"]})


# Requests over the server's limits (kfs serve: 2000 lookups, a 1 MiB body): each is TooLargeError
# with the server's code, also when the body is refused before it was all sent.
OVER_LIMITS = [
    ("more lookups than allowed", [f"u{i}" for i in range(2001)], "BATCH_TOO_LARGE"),
    ("a body over 1 MiB", [f"u{i}-{'x' * 100}" for i in range(12_000)], "PAYLOAD_TOO_LARGE"),
    ("a body far over 1 MiB", [f"u{i}-{'x' * 400}" for i in range(40_000)], "PAYLOAD_TOO_LARGE"),
]


@pytest.mark.parametrize("case,users,code", OVER_LIMITS, ids=[c[0] for c in OVER_LIMITS])
def test_requests_over_the_limits_are_too_large_with_the_servers_code(client: Client, case: str, users: List[str], code: str) -> None:
    with pytest.raises(TooLargeError) as caught:
        client.get_online_features(features=["user_clicks:count_1h"], entities={"user_id": users})
    assert (caught.value.code, caught.value.status) == (code, 413), caught.value
