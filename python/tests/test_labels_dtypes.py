"""Labels DataFrames with the dtypes notebooks hold (issue: odd label dtypes): each gives the
training set of the same labels in the plain form — UTC timestamps, string keys — feature cell
for feature cell, or a clear BadRequestError naming what is wrong; never a crash or a pyarrow
error. Naive timestamps are UTC (training/README.md), a non-UTC zone is the same instant, a key
that is missing (None, NaN, pandas NA) is "no entity": null features."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest

from kfs import BadRequestError, Client, KfsError, UsageError

from conftest import Kfs
from test_historical import feature_columns, random_labels


def plain(kfs: Kfs) -> pd.DataFrame:
    return random_labels(kfs, 60)


def with_column(name: str, make: Callable[[pd.Series], Any]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out[name] = make(out[name])
        return out

    return change


# Each case: a change to the plain labels that must not change any feature cell.
SAME_FEATURES: Dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "timestamps in another zone": with_column("ts", lambda s: s.dt.tz_convert("Asia/Kolkata")),
    "naive timestamps (UTC)": with_column("ts", lambda s: s.dt.tz_localize(None)),
    "millisecond timestamps": with_column("ts", lambda s: s.astype("datetime64[ms, UTC]")),
    "epoch-millisecond integers": with_column("ts", lambda s: (s - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)),
    "categorical keys": with_column("user_id", lambda s: pd.Categorical(s)),
    "object keys": with_column("user_id", lambda s: s.astype(object)),
    "float request input given as int": with_column("amount", lambda s: s.round().astype("int64")),
}


@pytest.mark.parametrize("case", sorted(SAME_FEATURES))
def test_odd_dtypes_give_the_features_of_the_plain_labels(client: Client, kfs: Kfs, case: str) -> None:
    labels = plain(kfs)
    changed = SAME_FEATURES[case](labels)
    if case == "float request input given as int":
        labels = labels.assign(amount=changed["amount"].astype(float))
    expected = client.get_historical_features(labels, service="fraud_model")
    got = client.get_historical_features(changed, service="fraud_model")
    columns = feature_columns(expected)
    assert len(got) == len(labels) and len(columns) >= 5
    pd.testing.assert_frame_equal(got[columns], expected[columns], check_exact=True, check_dtype=False)
    assert expected["user_purchases__count"].notna().any(), "some label found its features"


# Keys that are missing: null features for those rows, found features for the others.
MISSING_KEYS: Dict[str, List[Any]] = {
    "None": [None],
    "NaN": [np.nan],
    "pandas NA": [pd.NA],
}


@pytest.mark.parametrize("case", sorted(MISSING_KEYS))
def test_a_missing_key_is_no_entity(client: Client, kfs: Kfs, case: str) -> None:
    labels = plain(kfs)
    keys = pd.Series(list(labels["user_id"]), dtype="string" if case == "pandas NA" else object)
    keys.iloc[::3] = MISSING_KEYS[case][0]
    got = client.get_historical_features(labels.assign(user_id=keys), service="fraud_model")
    expected = client.get_historical_features(labels, service="fraud_model")
    missing = keys.isna().to_numpy()
    assert got.loc[missing, "user_purchases__count"].isna().all()
    pd.testing.assert_series_equal(got.loc[~missing, "user_purchases__amount_sum_1h"], expected.loc[~missing, "user_purchases__amount_sum_1h"], check_exact=True)


def test_int_keys_for_a_string_entity_are_their_decimal_text(client: Client, kfs: Kfs) -> None:
    labels = plain(kfs).assign(user_id=lambda f: f["user_id"].str.slice(1))  # "u17" → "17": no such user
    as_ints = labels.assign(user_id=labels["user_id"].astype("int64"))
    got = client.get_historical_features(as_ints, service="fraud_model")
    expected = client.get_historical_features(labels, service="fraud_model")
    columns = feature_columns(expected)
    pd.testing.assert_frame_equal(got[columns], expected[columns], check_exact=True, check_dtype=False)


# Labels that cannot make a training set: the exception and code kfs training-set gives.
REFUSED: Dict[str, Tuple[Callable[[pd.DataFrame], pd.DataFrame], type, str]] = {
    "no rows": (lambda f: f.iloc[0:0], BadRequestError, "BAD_REQUEST"),
    "no rows, object columns": (lambda f: pd.DataFrame({c: pd.Series([], dtype=object) for c in f.columns}), BadRequestError, "BAD_REQUEST"),
    "a missing label time (NaT)": (with_column("ts", lambda s: s.where(s.index != 3)), BadRequestError, "BAD_REQUEST"),
    "no key column": (lambda f: f.drop(columns=["user_id"]), BadRequestError, "BAD_REQUEST"),
    "no label-time column": (lambda f: f.drop(columns=["ts"]), UsageError, "USAGE"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_labels_that_cannot_make_a_training_set_are_a_clear_error(client: Client, kfs: Kfs, case: str) -> None:
    change, cls, code = REFUSED[case]
    with pytest.raises(KfsError) as caught:
        client.get_historical_features(change(plain(kfs)), service="fraud_model")
    assert type(caught.value) is cls and caught.value.code == code and caught.value.message, caught.value
