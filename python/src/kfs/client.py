"""The kfs client: online features from ``kfs serve`` over HTTP, training sets through the
``kfs training-set`` CLI, and what the server serves — as pandas DataFrames and typed objects."""

from __future__ import annotations

import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import requests

from .answer import check_answer, column, snippet, typed_values
from .errors import KfsError, NotFoundError, error_for
from .frames import to_pandas
from .registry import ARROW_TYPES, Registry, Service, View
from .training import Labels, historical_features, resolve_cli

# A join-key value: text or an integer (a numpy scalar of either too).
Scalar = Union[str, int, "np.generic"]


class Client:
    """A connection to a kfs feature server.

    ``url`` is the base URL of ``kfs serve`` (``http://localhost:8080``); ``api_key`` one of its
    ``KFS_SERVE_API_KEYS``. Training sets run the kfs CLI on this machine: ``cli`` is the command
    (default ``$KFS_CLI``, else ``kfs`` on the PATH), ``cli_cwd`` and ``cli_env`` the folder and
    extra environment (``KFS_DATA_DIR``, ``KFS_S3_BUCKET``…) it runs with.
    """

    def __init__(
        self,
        url: str,
        api_key: Optional[str] = None,
        *,
        timeout: float = 10.0,
        cli: Union[str, Sequence[str], None] = None,
        cli_cwd: Union[str, "os.PathLike[str]", None] = None,
        cli_env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        if api_key is not None:
            self._session.headers["Authorization"] = f"Bearer {api_key}"
        self._cli = cli
        self._cli_cwd = cli_cwd
        self._cli_env = dict(cli_env or {})
        self._registry: Optional[Registry] = None

    # -- HTTP -----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        try:
            res = self._session.request(method, f"{self.url}{path}", json=body, timeout=self.timeout)
        except requests.RequestException as err:
            raise KfsError("UNREACHABLE", f"{method} {self.url}{path}: {err}") from err
        try:
            payload = res.json()
        except ValueError:
            payload = None
        if res.status_code >= 400:
            raise error_for(res.status_code, payload, text=snippet(res.text))
        if payload is None:
            raise KfsError("BAD_RESPONSE", f"{method} {path} answered {res.status_code} without JSON: {snippet(res.text)!r}")
        return payload

    def registry(self, refresh: bool = False) -> Registry:
        """The server's registry (``GET /v1/registry``), fetched once and kept."""
        if self._registry is None or refresh:
            document = self._request("GET", "/v1/registry")
            try:
                self._registry = Registry(document)
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise KfsError("BAD_RESPONSE", f"GET /v1/registry: the answer is not a kfs registry ({type(err).__name__}: {err})") from err
        return self._registry

    def list_views(self) -> List[View]:
        """Every view the server serves (each served version)."""
        return list(self.registry().views)

    def list_services(self) -> List[Service]:
        return list(self.registry().services)

    def describe(self, view: str) -> View:
        """A view by ``name`` (its highest served version) or ``name@version``; NotFoundError if the
        server does not serve it (the kept registry is read again first)."""
        found = self.registry().view(view)
        if found is None:
            # Applied since the registry was read? Read it again before saying there is none.
            found = self.registry(refresh=True).view(view)
        if found is None:
            raise NotFoundError("NOT_FOUND", f"unknown view {view}", details={"view": view})
        return found

    # -- online ---------------------------------------------------------------------------------

    def get_online_features_response(
        self,
        *,
        entities: Mapping[str, Union[Scalar, Iterable[Any]]],
        features: Optional[Sequence[str]] = None,
        service: Optional[str] = None,
        request: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """The raw JSON answer of ``POST /v1/features``."""
        if (service is None) == (features is None):
            raise ValueError("give exactly one of service= or features=")
        body: Dict[str, Any] = {"entities": {k: _as_list(v, k) for k, v in entities.items()}}
        if service is not None:
            body["service"] = service
        else:
            if isinstance(features, str):
                raise ValueError("features= must be a list of feature references, not one string")
            body["features"] = list(features or [])
        if request is not None:
            body["request"] = {k: _plain(v, f"request[{k!r}]") for k, v in request.items()}
        rows_asked = max((len(values) for values in body["entities"].values()), default=0)
        return check_answer(self._request("POST", "/v1/features", body), rows_asked)

    def get_online_features(
        self,
        *,
        entities: Mapping[str, Union[Scalar, Iterable[Any]]],
        features: Optional[Sequence[str]] = None,
        service: Optional[str] = None,
        request: Optional[Mapping[str, Any]] = None,
    ) -> pd.DataFrame:
        """Online features as a DataFrame: one row per entity (entity lists are zipped; a list of
        one value is repeated), the join-key columns, one column per feature (named as requested:
        ``view:feature`` or the request feature's name), then per view read ``<view>.status``
        (PRESENT, MISSING, OUTSIDE_TTL) and ``<view>.as_of`` (UTC timestamp; NaT when MISSING).
        Values are null unless PRESENT."""
        answer = self.get_online_features_response(entities=entities, features=features, service=service, request=request)
        return self._frame(answer)

    def get_online_features_dict(
        self,
        *,
        entity: Mapping[str, Scalar],
        features: Optional[Sequence[str]] = None,
        service: Optional[str] = None,
        request: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """The same for a single entity, as a dict of column → value, each its type's Python value (README.md
        "Value types"; None for null; as_of a UTC ``pd.Timestamp``, a datetime)."""
        for key, value in entity.items():
            if isinstance(value, (list, tuple)):
                raise ValueError(f"entity[{key!r}] must be one value; use get_online_features for many")
        answer = self.get_online_features_response(entities={k: [v] for k, v in entity.items()}, features=features, service=service, request=request)
        row = answer["rows"][0]
        registry = self._registry_knowing(answer["features"])
        out: Dict[str, Any] = dict(row["entities"])
        for name, value in zip(answer["features"], row["values"]):
            kfs_type = registry.value_type(name)
            # The value as its type's Python value, as the frame holds it: a double serve wrote as
            # integer digits (3, or 2^60 as 1152921504606847000) is the float it is, not an int.
            out[name] = typed_values(name, [value], kfs_type)[0] if kfs_type in ARROW_TYPES else value
        for view, state in row["views"].items():
            out[f"{view}.status"] = state["status"]
            as_of = state.get("as_of")
            # pandas' Timestamp (a datetime) from the integer ms, exact: a float of as_of / 1000 is
            # not, and a datetime ends at year 9999 where an event time may not.
            out[f"{view}.as_of"] = None if as_of is None else pd.Timestamp(np.datetime64(as_of, "ms")).tz_localize("UTC")
        return out

    def _registry_knowing(self, names: Sequence[str]) -> Registry:
        """The kept registry; read again if it does not know one of ``names`` (applied since it was
        read), so a value gets its declared type rather than one guessed from it (3 for a double)."""
        registry = self.registry()
        if any(registry.value_type(name) is None for name in names):
            registry = self.registry(refresh=True)
        return registry

    def _frame(self, answer: Mapping[str, Any]) -> pd.DataFrame:
        names: List[str] = list(answer["features"])
        registry = self._registry_knowing(names)
        rows: List[Mapping[str, Any]] = list(answer["rows"])
        columns: Dict[str, pa.Array] = {}
        keys: List[str] = []
        for row in rows:
            for k in row["entities"]:
                if k not in keys:
                    keys.append(k)
        for k in keys:
            values = [row["entities"].get(k) for row in rows]
            try:
                columns[k] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                columns[k] = pa.array([None if v is None else str(v) for v in values], pa.string())
        for i, name in enumerate(names):
            values = [row["values"][i] for row in rows]
            columns[name] = column(name, values, registry.value_type(name))
        view_keys: List[str] = []
        for row in rows:
            for v in row["views"]:
                if v not in view_keys:
                    view_keys.append(v)
        for v in view_keys:
            states = [row["views"].get(v, {}) for row in rows]
            columns[f"{v}.status"] = pa.array([s.get("status") for s in states], pa.string())
            columns[f"{v}.as_of"] = pa.array([s.get("as_of") for s in states], pa.timestamp("ms", tz="UTC"))
        return to_pandas(pa.table(columns)) if columns else pd.DataFrame(index=range(len(rows)))

    # -- offline --------------------------------------------------------------------------------

    def get_historical_features(
        self,
        labels: Labels,
        *,
        service: Optional[str] = None,
        features: Optional[Sequence[str]] = None,
        as_served: bool = False,
        time_column: Optional[str] = None,
        out: Union[str, "os.PathLike[str]", None] = None,
    ) -> pd.DataFrame:
        """A point-in-time training set: for each label row, every feature as of the label time
        (``ts`` unless ``time_column``), built by ``kfs training-set`` from the offline tables —
        the label columns, one ``<view>__<feature>`` column per stored feature and one per request
        feature. ``labels`` is a DataFrame or a .csv/.parquet path; ``as_served`` joins on what the
        online store could have served. ``out`` keeps the Parquet file. ``frame.attrs
        ['kfs_training_set']`` holds the id (``kfs training-set --rebuild <id>``) and the snapshots read."""
        return historical_features(
            labels,
            cli=resolve_cli(self._cli),
            cwd=self._cli_cwd,
            env=self._cli_env,
            service=service,
            features=features,
            as_served=as_served,
            time_column=time_column,
            out=out,
        )


def _as_list(value: Any, key: str) -> List[Any]:
    """An entity list as plain JSON values: one value (a numpy scalar too) is a list of one; any
    other iterable — list, tuple, range, numpy array, pandas Series or Index — is listed."""
    if isinstance(value, (str, bytes, int, float, np.generic)):
        return [_plain(value, f"entities[{key!r}]")]
    return [_plain(v, f"entities[{key!r}][{i}]") for i, v in enumerate(value)]


def _plain(value: Any, where: str) -> Any:
    """``value`` as the Python value ``json`` writes: numpy's scalars as theirs (``json`` cannot
    write them), pandas' missing markers as null (the server then says what it needed there).
    NaN and ±Infinity have no JSON: refused here, naming where, rather than by the encoder."""
    if isinstance(value, np.generic):
        value = value.item()
    elif value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}: JSON has no NaN or Infinity (send a finite number, or leave the entity out)")
    return value
