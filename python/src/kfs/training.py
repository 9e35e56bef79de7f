"""Point-in-time training sets through the ``kfs training-set`` CLI.

The CLI decides the answer, so this module only hands it the labels and reads back the Parquet
file it wrote: the DataFrame is, cell for cell, what ``kfs training-set`` writes (that file's
Arrow table, converted by frames.py: integer columns nullable, never float). A labels DataFrame is written to Parquet first, with the types kfs
reads (large strings and dictionary-encoded strings as plain strings).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import KfsError, UsageError, error_for_code
from .frames import to_pandas

Labels = Union[pd.DataFrame, str, "os.PathLike[str]"]


def resolve_cli(cli: Union[str, Sequence[str], None]) -> List[str]:
    """The command that runs kfs: ``cli`` (a list, or a string split like a shell would), else
    ``$KFS_CLI``, else ``kfs`` on the PATH."""
    if cli is None:
        cli = os.environ.get("KFS_CLI")
    if cli is None:
        found = shutil.which("kfs")
        if found is None:
            raise KfsError(
                "CLI_NOT_FOUND",
                "kfs is not on the PATH: pass Client(..., cli=['npx', 'kfs'], cli_cwd='<kfs checkout>') or set KFS_CLI",
            )
        return [found]
    return shlex.split(cli) if isinstance(cli, str) else list(cli)


def _kfs_types(table: pa.Table) -> pa.Table:
    """Casts columns to the Parquet types kfs reads: strings (not large or dictionary strings), lists of them."""
    fields = []
    for field in table.schema:
        t = field.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_large_list(t):
            t = pa.list_(t.value_type)
        fields.append(pa.field(field.name, t, field.nullable))
    return table.cast(pa.schema(fields))


def _whole_microseconds(column: pa.ChunkedArray) -> bool:
    """Whether every value of a nanosecond timestamp column is a whole microsecond (nulls aside)."""
    values = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    finite = values[~pd.isna(values)]
    return bool((finite.astype("int64") % 1000 == 0).all())


def _zoned_ns_as_us(table: pa.Table) -> pa.Table:
    """pandas holds a zoned time as nanoseconds (``datetime64[ns, UTC]``), which kfs's join engine
    cannot carry (training/README.md: it reads them only to the microsecond and refuses such a
    column). A column whose values are all whole microseconds — what almost every pandas time
    holds — is written as microseconds with its zone, the same instants; one holding nanoseconds is
    left as it is, for the CLI to refuse naming the column rather than for the client to truncate."""
    for i, field in enumerate(table.schema):
        t = field.type
        if pa.types.is_timestamp(t) and t.unit == "ns" and t.tz is not None and _whole_microseconds(table.column(i)):
            us = pa.timestamp("us", tz=t.tz)
            table = table.set_column(i, pa.field(field.name, us, field.nullable), table.column(i).cast(us))
    return table


def write_labels(labels: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(labels, preserve_index=False)
    pq.write_table(_zoned_ns_as_us(_kfs_types(table)), path)


def historical_features(
    labels: Labels,
    *,
    cli: List[str],
    cwd: Optional[Union[str, "os.PathLike[str]"]],
    env: Optional[Mapping[str, str]],
    service: Optional[str],
    features: Optional[Sequence[str]],
    as_served: bool,
    time_column: Optional[str],
    out: Optional[Union[str, "os.PathLike[str]"]],
) -> pd.DataFrame:
    if (service is None) == (features is None):
        raise ValueError("give exactly one of service= or features=")
    if features is not None and (isinstance(features, str) or len(features) == 0):
        raise ValueError("features= must be a non-empty list of feature references")
    with tempfile.TemporaryDirectory(prefix="kfs-training-") as tmp:
        if isinstance(labels, pd.DataFrame):
            labels_path = Path(tmp) / "labels.parquet"
            write_labels(labels, labels_path)
        else:
            labels_path = Path(labels).resolve()
        out_path = Path(out).resolve() if out is not None else Path(tmp) / "training-set.parquet"
        args = cli + ["training-set", "--labels", str(labels_path), "--out", str(out_path), "--json"]
        args += ["--service", service] if service is not None else ["--features", ",".join(features or [])]
        if as_served:
            args.append("--as-served")
        if time_column is not None:
            args += ["--time-column", time_column]
        run_env: Dict[str, str] = {**os.environ, **(env or {})}
        done = subprocess.run(args, cwd=cwd, env=run_env, capture_output=True, text=True)
        if done.returncode != 0:
            raise _cli_error(done)
        result: Dict[str, Any] = json.loads(done.stdout)
        # Read as frames.py reads every table: a long column with a null stays exact (Int64), not float64.
        frame = to_pandas(pq.read_table(out_path))
    frame.attrs["kfs_training_set"] = {"id": result.get("id"), "rows": result.get("rows"), "record": result.get("record")}
    return frame


def _cli_error(done: "subprocess.CompletedProcess[str]") -> KfsError:
    # The CLI's own line ("kfs training-set: …"), not a warning a library printed before it.
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    message = next((line for line in lines if line.startswith("kfs ")), lines[-1] if lines else f"kfs exited {done.returncode}")
    if done.returncode == 2:
        return UsageError("USAGE", message)
    try:
        body = json.loads(done.stdout)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return error_for_code(str(error.get("code")), str(error.get("message")), details=error.get("context") or {})
    return KfsError("CLI_FAILED", message)
