"""Task cache keys: a stable hash of the inputs, the code version, and the TTL arithmetic.

Inputs hash by value: numbers, strings, bytes, containers of them, numpy arrays and pandas
objects by their contents, anything else by its pickle. What cannot be hashed stably (a
generator, a lock, a lambda) raises ``UnhashableInput``; the caller turns that into a warning
and runs the call without the cache.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Mapping
from typing import Any

from nbflow.core.tasks import CacheEntry, TaskSpec
from nbflow.core.versions import code_version
from nbflow.errors import UnhashableInput

_SCALARS = (bool, int, float, complex, str, type(None))
_BYTES = (bytes, bytearray, memoryview)
_MAX_DEPTH = 32


def stable_hash(value: Any) -> str:
    """A hex digest of ``value`` that is the same in every process for equal data."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, value, 0)
    return h.hexdigest()


def _feed(h: Any, v: Any, depth: int) -> None:
    t = type(v)
    if t in _SCALARS:
        h.update(f"{t.__name__}:{v!r}\x00".encode())
        return
    if t in _BYTES:
        data = bytes(v)
        h.update(b"bytes:%d:" % len(data))
        h.update(data)
        return
    if depth > _MAX_DEPTH:
        raise UnhashableInput("The input is nested too deeply to hash.")
    if t in (tuple, list):
        h.update(f"{t.__name__}[{len(v)}:".encode())
        for x in v:
            _feed(h, x, depth + 1)
        h.update(b"]")
        return
    if t is dict:
        items = sorted(((stable_hash(k), x) for k, x in v.items()), key=lambda kv: kv[0])
        h.update(f"dict{{{len(items)}:".encode())
        for kh, x in items:
            h.update(kh.encode())
            _feed(h, x, depth + 1)
        h.update(b"}")
        return
    if t in (set, frozenset):
        h.update(f"set{{{len(v)}:".encode())
        for xh in sorted(stable_hash(x) for x in v):
            h.update(xh.encode())
        h.update(b"}")
        return
    module = t.__module__ or ""
    if module.startswith("numpy"):
        _feed_numpy(h, v)
        return
    if module.startswith("pandas"):
        _feed_pandas(h, v)
        return
    _feed_pickle(h, v)


def _feed_numpy(h: Any, v: Any) -> None:
    import numpy as np

    if isinstance(v, np.ndarray):
        if v.dtype.hasobject:
            h.update(f"ndarray-object:{v.shape}:".encode())
            for x in v.ravel().tolist():
                _feed(h, x, 1)
            return
        h.update(f"ndarray:{v.dtype.str}:{v.shape}:".encode())
        h.update(np.ascontiguousarray(v).tobytes())
        return
    if isinstance(v, np.generic):
        h.update(f"npscalar:{v.dtype.str}:".encode())
        h.update(v.tobytes())
        return
    _feed_pickle(h, v)


def _feed_pandas(h: Any, v: Any) -> None:
    import pandas as pd

    if isinstance(v, (pd.DataFrame, pd.Series, pd.Index)):
        try:
            rows = pd.util.hash_pandas_object(v, index=not isinstance(v, pd.Index))
        except TypeError:  # cells holding lists or dicts: hash them one by one
            _feed_pickle(h, v)
            return
        h.update(f"{type(v).__name__}:{v.shape}:".encode())
        if isinstance(v, pd.DataFrame):
            _feed(h, [str(c) for c in v.columns], 1)
            _feed(h, [str(d) for d in v.dtypes], 1)
        else:
            _feed(h, [str(getattr(v, "name", None)), str(v.dtype)], 1)
        h.update(rows.to_numpy().tobytes())
        return
    _feed_pickle(h, v)


def _feed_pickle(h: Any, v: Any) -> None:
    try:
        data = pickle.dumps(v, protocol=5)
    except Exception as e:
        raise UnhashableInput(
            f"A value of type {type(v).__name__} cannot be hashed for the cache ({e}).") from None
    h.update(f"pickle:{type(v).__module__}.{type(v).__qualname__}:".encode())
    h.update(data)


def inputs_hash(arguments: Mapping[str, Any]) -> str:
    """The hash of a call's bound arguments; ``UnhashableInput`` names the parameter."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(arguments):
        h.update(f"{name}=".encode())
        try:
            _feed(h, arguments[name], 0)
        except UnhashableInput as e:
            raise UnhashableInput(f"Argument {name!r}: {e}", parameter=name) from None
        except RecursionError:
            raise UnhashableInput(f"Argument {name!r} refers to itself and cannot be hashed.",
                                  parameter=name) from None
    return h.hexdigest()


def task_code_version(spec: TaskSpec) -> str:
    """The task's code version: its source plus the plain-data globals and closures it reads."""
    return code_version(spec.fn, source=spec.source)


def cache_key(spec: TaskSpec, arguments: Mapping[str, Any]) -> str | None:
    """The cache key of calling ``spec`` with ``arguments``; ``None`` means do not cache.

    Raises ``UnhashableInput`` when an argument has no stable hash.
    """
    policy = spec.cache
    if policy is None:
        return None
    h = hashlib.blake2b(digest_size=20)
    h.update(f"task:{spec.name}\x00".encode())
    if callable(policy):
        key = _user_key(spec, policy, arguments)
        if key is None:
            return None
        h.update(f"key:{key}".encode())
        return h.hexdigest()
    h.update(inputs_hash(arguments).encode())
    if policy == "inputs+code":
        h.update(f"\x00code:{task_code_version(spec)}".encode())
    return h.hexdigest()


def _user_key(spec: TaskSpec, fn: Callable[..., Any], arguments: Mapping[str, Any]) -> str | None:
    try:
        key = fn(dict(arguments))
    except Exception as e:
        raise UnhashableInput(
            f"The cache key function of task {spec.name!r} raised {type(e).__name__}: {e}.") from e
    if key is None:
        return None
    if not isinstance(key, str):
        try:
            key = stable_hash(key)
        except UnhashableInput as e:
            raise UnhashableInput(
                f"The cache key function of task {spec.name!r} returned an unhashable "
                f"{type(key).__name__}; return a string. ({e})") from None
    return key


def expires_at(spec: TaskSpec, now: float) -> float | None:
    """When an entry written at ``now`` stops being valid (``None``: never)."""
    return None if spec.cache_ttl is None else now + spec.cache_ttl


def dumps_result(value: Any) -> bytes:
    """Pickle a task result for the cache (cloudpickle for notebook-defined classes)."""
    try:
        return pickle.dumps(value, protocol=5)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=5)  # type: ignore[no-any-return]


def loads_result(payload: bytes) -> Any:
    return pickle.loads(payload)


__all__ = ["CacheEntry", "UnhashableInput", "cache_key", "dumps_result",
           "expires_at", "inputs_hash", "loads_result", "stable_hash", "task_code_version"]
