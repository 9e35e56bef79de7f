"""Opens an Iceberg table with PyIceberg from a metadata file and prints what a reader sees, as JSON.

Usage: scan.py <metadata-uri> [<snapshot-id> ...]
S3 settings come from KFS_S3_* env vars when the URI is s3://.
Timestamps print as epoch milliseconds, binary as hex, snapshot ids as strings (they are 63-bit).
"""
import json
import os
import sys
from datetime import datetime, timezone

import pyarrow.parquet as pq
from pyiceberg.table import StaticTable


def value(v):
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError("timestamptz read back without a time zone")
        delta = v - datetime(1970, 1, 1, tzinfo=timezone.utc)
        return (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) // 1000
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, list):
        return [value(x) for x in v]
    return v


def footer_field_ids(path):
    schema = pq.read_schema(path)
    out = {}
    for field in schema:
        md = field.metadata or {}
        entry = {"id": int(md[b"PARQUET:field_id"]) if b"PARQUET:field_id" in md else None}
        if hasattr(field.type, "value_field"):
            emd = field.type.value_field.metadata or {}
            entry["element_id"] = int(emd[b"PARQUET:field_id"]) if b"PARQUET:field_id" in emd else None
        out[field.name] = entry
    return out


def main():
    location = sys.argv[1]
    props = {}
    if location.startswith("s3://"):
        props = {
            "s3.endpoint": os.environ["KFS_S3_ENDPOINT"],
            "s3.access-key-id": os.environ["KFS_S3_ACCESS_KEY_ID"],
            "s3.secret-access-key": os.environ["KFS_S3_SECRET_ACCESS_KEY"],
            "s3.region": os.environ.get("KFS_S3_REGION", "us-east-1"),
        }
    table = StaticTable.from_metadata(location, properties=props)
    md = table.metadata
    result = {
        "format_version": md.format_version,
        "schema": json.loads(table.schema().model_dump_json()),
        "spec": json.loads(table.spec().model_dump_json()),
        "snapshots": [
            {
                "id": str(s.snapshot_id),
                "parent": None if s.parent_snapshot_id is None else str(s.parent_snapshot_id),
                "sequence_number": s.sequence_number,
                "summary": {"operation": s.summary.operation.value, **s.summary.additional_properties},
            }
            for s in md.snapshots
        ],
        "current_snapshot_id": None if md.current_snapshot_id is None else str(md.current_snapshot_id),
        "rows": [{k: value(v) for k, v in r.items()} for r in table.scan().to_arrow().to_pylist()],
        "time_travel": {},
        "files": [],
    }
    for sid in sys.argv[2:]:
        result["time_travel"][sid] = len(table.scan(snapshot_id=int(sid)).to_arrow())
    for task in table.scan().plan_files():
        f = task.file
        entry = {"path": f.file_path, "record_count": f.record_count, "partition": [value(x) for x in f.partition]}
        if f.file_path.startswith("file://"):
            entry["field_ids"] = footer_field_ids(f.file_path[len("file://"):])
        result["files"].append(entry)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
