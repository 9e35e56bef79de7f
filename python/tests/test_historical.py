"""Historical retrieval: the client's training set is, cell for cell, what `kfs training-set`
writes for the same labels — on randomized labels, given as a CSV path, a Parquet path or a
pandas DataFrame (pandas 3's default string dtype included)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kfs import BadRequestError, Client, UsageError
from kfs.frames import to_pandas

from conftest import SEED, Kfs



def random_labels(kfs: Kfs, n: int = 250) -> pd.DataFrame:
    """Users skewed like the generator's, times from before the first event to after the last."""
    rnd = random.Random(SEED)
    span_ms = int((datetime.now(timezone.utc) - kfs.start).total_seconds() * 1000)
    times = [kfs.start - timedelta(minutes=2) + timedelta(milliseconds=rnd.randrange(span_ms + 240_000)) for _ in range(n)]
    return pd.DataFrame(
        {
            "user_id": [f"u{int(rnd.paretovariate(1.2)) - 1}" for _ in range(n)],
            "item_id": [f"i{rnd.randrange(40)}" for _ in range(n)],
            "ts": pd.to_datetime(times, utc=True),
            "amount": [round(rnd.uniform(1, 400), 2) for _ in range(n)],
            "is_fraud": [int(rnd.random() < 0.1) for _ in range(n)],
        }
    )


def write_csv(labels: pd.DataFrame, path: Path) -> Path:
    out = labels.copy()
    out["ts"] = out["ts"].map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    out.to_csv(path, index=False)
    return path


def cli_training_set(kfs: Kfs, labels: Path, out: Path, *selection: str) -> pd.DataFrame:
    done = kfs.run("training-set", "--labels", str(labels), "--out", str(out), *selection)
    assert done.returncode == 0, done.stderr
    # Read as the client reads every table (kfs/frames.py): these tests compare what the CLI and the
    # client build; test_value_types_served.py holds that reading to the Parquet rows themselves.
    return to_pandas(pq.read_table(out))


def feature_columns(frame: pd.DataFrame) -> List[str]:
    return [c for c in frame.columns if "__" in c or c == "amount_vs_avg_7d"]


def test_csv_labels_equal_the_cli_cell_for_cell(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    labels = write_csv(random_labels(kfs), tmp_path / "labels.csv")
    expected = cli_training_set(kfs, labels, tmp_path / "cli.parquet", "--service", "fraud_model")
    got = client.get_historical_features(labels, service="fraud_model")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    present = expected["user_purchases__count"].notna().sum()
    assert 0 < present < len(expected), f"a mix of found and not-found rows (seed {SEED}): {present}"
    assert got.attrs["kfs_training_set"]["rows"] == len(expected)


def test_dataframe_labels_give_the_features_of_the_same_labels_as_csv(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    frame = random_labels(kfs)
    if pd.__version__.startswith("3"):
        assert str(frame["user_id"].dtype) == "str", "pandas 3 default strings (Arrow large_string)"
    expected = cli_training_set(kfs, write_csv(frame, tmp_path / "labels.csv"), tmp_path / "cli.parquet", "--service", "fraud_model")
    got = client.get_historical_features(frame, service="fraud_model")
    assert len(got) == len(frame) and list(got.columns) == list(expected.columns)
    columns = feature_columns(expected)
    assert len(columns) >= 5, columns
    pd.testing.assert_frame_equal(got[columns], expected[columns], check_exact=True)
    for c in ["user_id", "item_id", "amount", "is_fraud"]:
        assert list(got[c]) == list(expected[c]), c
    assert list(got["ts"]) == list(frame["ts"]), "the label time comes back as the timestamp it was"


def test_parquet_labels_features_list_and_as_served_equal_the_cli(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    frame = random_labels(kfs)
    labels = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).cast(
        pa.schema([("user_id", pa.string()), ("item_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")), ("amount", pa.float64()), ("is_fraud", pa.int64())])
    ), labels)
    features = ["user_clicks:count_1h", "item_clicks:count_1d", "user_purchases:amount_avg_7d", "amount_vs_avg_7d"]
    for as_served in (False, True):
        selection = ["--features", ",".join(features)] + (["--as-served"] if as_served else [])
        expected = cli_training_set(kfs, labels, tmp_path / f"cli-{as_served}.parquet", *selection)
        got = client.get_historical_features(str(labels), features=features, as_served=as_served)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_cli_failures_are_exceptions_with_codes(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    labels = write_csv(random_labels(kfs, 5), tmp_path / "labels.csv")
    with pytest.raises(UsageError) as usage:
        client.get_historical_features(labels, service="no_such_service")
    assert usage.value.code == "USAGE" and "no_such_service" in usage.value.message
    no_keys = random_labels(kfs, 5).drop(columns=["user_id"])
    with pytest.raises(BadRequestError) as bad:
        client.get_historical_features(no_keys, service="fraud_model")
    assert bad.value.code == "BAD_REQUEST" and "user_id" in bad.value.message
