"""Labels as data scientists write them (issue #17, training/README.md "Labels as users write
them"): a pandas 3 Parquet file with default settings (large_string, ns timestamps), a polars
Parquet file, and a CSV whose 64-bit ids lie beyond 2^53. Each gives, cell for cell, the training
set `kfs training-set` writes — and the same feature cells as the same labels given as plain CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow.parquet as pq

from kfs import Client

from conftest import Kfs
from test_historical import cli_training_set, feature_columns, random_labels, write_csv

BIG = 2**62


def test_pandas_parquet_with_defaults_equals_the_cli_and_csv(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    frame = random_labels(kfs)
    labels = tmp_path / "pandas.parquet"
    frame.to_parquet(labels)  # pandas' defaults, as a notebook writes it
    kinds = {f.name: str(f.type) for f in pq.read_schema(labels)}
    if pd.__version__.startswith("3"):
        assert kinds["user_id"] == "large_string", kinds
    expected = cli_training_set(kfs, labels, tmp_path / "cli.parquet", "--service", "fraud_model")
    got = client.get_historical_features(str(labels), service="fraud_model")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    from_csv = cli_training_set(kfs, write_csv(frame, tmp_path / "labels.csv"), tmp_path / "csv.parquet", "--service", "fraud_model")
    columns = feature_columns(expected)
    assert len(columns) >= 5, columns
    pd.testing.assert_frame_equal(expected[columns], from_csv[columns], check_exact=True)


def test_polars_parquet_equals_the_cli_and_csv(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    frame = random_labels(kfs)
    labels = tmp_path / "polars.parquet"
    pl.from_pandas(frame).write_parquet(labels)
    expected = cli_training_set(kfs, labels, tmp_path / "cli.parquet", "--service", "fraud_model")
    got = client.get_historical_features(str(labels), service="fraud_model")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    from_csv = cli_training_set(kfs, write_csv(frame, tmp_path / "labels.csv"), tmp_path / "csv.parquet", "--service", "fraud_model")
    columns = feature_columns(expected)
    pd.testing.assert_frame_equal(expected[columns], from_csv[columns], check_exact=True)


def test_csv_64_bit_ids_come_back_exact(client: Client, kfs: Kfs, tmp_path: Path) -> None:
    frame = random_labels(kfs, 60)
    # Ids a double cannot hold: 2^62 + i differ in their last bits, which a double would round away.
    frame.insert(0, "order_no", [BIG + 2 * i + 1 for i in range(len(frame))])
    labels = write_csv(frame, tmp_path / "labels.csv")
    expected = cli_training_set(kfs, labels, tmp_path / "cli.parquet", "--service", "fraud_model")
    assert [int(x) for x in expected["order_no"]] == list(frame["order_no"]), "every id exact"
    got = client.get_historical_features(labels, service="fraud_model")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
