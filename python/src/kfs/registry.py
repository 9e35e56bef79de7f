"""What a kfs server serves, as typed objects (from ``GET /v1/registry``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import pyarrow as pa

# The Arrow type of each kfs value type: the types `kfs training-set` writes, so an online frame
# and a training frame convert to pandas alike.
ARROW_TYPES: Dict[str, pa.DataType] = {
    "long": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "boolean": pa.bool_(),
    "long[]": pa.list_(pa.int64()),
    "double[]": pa.list_(pa.float64()),
    "string[]": pa.list_(pa.string()),
}


@dataclass(frozen=True)
class Feature:
    name: str
    type: str
    op: str
    window_ms: Optional[int]
    """None for a lifetime window."""


@dataclass(frozen=True)
class View:
    name: str
    version: int
    entity: str
    join_keys: Tuple[str, ...]
    key_type: str
    features: Tuple[Feature, ...]
    ttl_ms: int
    freshness_sla_ms: Optional[int]
    owner: str
    description: str
    tags: Mapping[str, str]
    source: str

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def feature_refs(self) -> Tuple[str, ...]:
        """``view:feature`` for every feature, as requests and services name them."""
        return tuple(f"{self.name}:{f.name}" for f in self.features)


@dataclass(frozen=True)
class RequestFeature:
    name: str
    request: Mapping[str, str]
    features: Tuple[str, ...]
    output_type: str
    description: str


@dataclass(frozen=True)
class Service:
    name: str
    features: Tuple[str, ...]
    request_features: Tuple[str, ...]
    owner: str
    description: str


class Registry:
    """The server's registry document, indexed: views by ``name`` (highest version) and ``name@version``."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.views: Tuple[View, ...] = tuple(_view(v) for v in document.get("views", []))
        self.services: Tuple[Service, ...] = tuple(
            Service(s["name"], tuple(s["features"]), tuple(s["requestFeatures"]), s.get("owner", ""), s.get("description", ""))
            for s in document.get("services", [])
        )
        self.request_features: Tuple[RequestFeature, ...] = tuple(
            RequestFeature(r["name"], dict(r["request"]), tuple(r["features"]), r["outputType"], r.get("description", ""))
            for r in document.get("requestFeatures", [])
        )
        self._views: Dict[str, View] = {}
        for v in sorted(self.views, key=lambda v: v.version):
            self._views[v.name] = v
            self._views[v.ref] = v

    def view(self, name: str) -> Optional[View]:
        return self._views.get(name)

    def value_type(self, output: str) -> Optional[str]:
        """The kfs value type of an output name of ``POST /v1/features`` (``view:f``, ``view@2:f``,
        a request feature); None for a name this registry does not have."""
        if ":" in output:
            view_name, feature = output.rsplit(":", 1)
            view = self.view(view_name)
            for f in view.features if view else ():
                if f.name == feature:
                    return f.type
            return None
        for r in self.request_features:
            if r.name == output:
                return r.output_type
        return None

    def arrow_type(self, output: str) -> Optional[pa.DataType]:
        """The Arrow type of an output name (see value_type)."""
        kfs_type = self.value_type(output)
        return None if kfs_type is None else ARROW_TYPES.get(kfs_type)


def _view(v: Mapping[str, Any]) -> View:
    entity = v.get("entity", {})
    return View(
        name=v["name"],
        version=int(v["version"]),
        entity=entity.get("name", ""),
        join_keys=tuple(entity.get("joinKeys", [])),
        key_type=entity.get("keyType", "string"),
        features=tuple(Feature(f["name"], f["type"], f.get("op", ""), f.get("windowMs")) for f in v.get("features", [])),
        ttl_ms=int(v.get("ttlMs", 0)),
        freshness_sla_ms=v.get("freshnessSlaMs"),
        owner=v.get("owner", ""),
        description=v.get("description", ""),
        tags=dict(v.get("tags", {})),
        source=v.get("source", {}).get("name", ""),
    )
