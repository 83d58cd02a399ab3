"""``create_transport()`` and the registry of transport names.

A name resolves, in order, to: a ``"module:Class"`` string given directly; a name
registered with :func:`register_transport`; a built-in ("unix", "zeromq", "zeromq-stream"); a name
published by an installed package in the ``tea_transports.transports`` entry point
group (read on the first lookup that needs it, never at import). Built-ins are imported
lazily, so ``import tea_transports`` never imports pyzmq.
"""

from __future__ import annotations

import importlib
import threading
from importlib import metadata
from typing import Dict, Mapping, Optional, Type, Union

from .base import Transport, TransportConfig
from .errors import ConfigurationError, OptionalDependencyError, UnknownTransportError

__all__ = [
    "ENTRY_POINT_GROUP",
    "TransportSpec",
    "available_transports",
    "create_transport",
    "register_transport",
    "transport_class",
]

ENTRY_POINT_GROUP = "tea_transports.transports"

#: a Transport subclass, or the "module:Class" path of one
TransportSpec = Union[str, Type[Transport]]
#: one class for every pattern it declares, or one class per pattern
_Entry = Union[TransportSpec, Mapping[str, TransportSpec]]

_BUILTIN: Dict[str, _Entry] = {
    "unix": "tea_transports.unix:UnixPipeTransport",
    "zeromq": {"pub_sub": "tea_transports.zeromq.pubsub:ZeroMQPubSubTransport"},
    "zeromq-stream": {"pub_sub": "tea_transports.zeromq.stream:ZeroMQStreamTransport"},
}
_INSTALL_HINTS = {name: "pip install 'tea-transports[zeromq]'" for name in ("zeromq", "zeromq-stream")}

_registry: Dict[str, _Entry] = dict(_BUILTIN)
_lock = threading.Lock()
_entry_points_loaded = False


def register_transport(name: str, spec: _Entry, *, replace: bool = False) -> None:
    """Make ``name`` resolve to ``spec`` (a class, ``"module:Class"``, or {pattern: either}).

    :raises ConfigurationError: the name is invalid, or taken and ``replace`` is False.
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ConfigurationError(f"a transport name must be a non-empty str without ':', got {name!r}")
    with _lock:
        if name in _registry and not replace and _registry[name] != spec:
            raise ConfigurationError(
                f"transport name {name!r} is already registered ({_describe(_registry[name])}); "
                f"pass replace=True to override it"
            )
        _registry[name] = spec


def available_transports() -> tuple[str, ...]:
    """Return every registered transport name, entry points included, sorted."""
    _load_entry_points()
    with _lock:
        return tuple(sorted(_registry))


def transport_class(name: str, pattern: str = "direct") -> Type[Transport]:
    """Resolve ``name`` (or ``"module:Class"``) for ``pattern`` to a Transport class.

    :raises UnknownTransportError: no transport has that name; the message lists the known ones.
    :raises ConfigurationError: the transport does not offer ``pattern``.
    :raises OptionalDependencyError: the transport needs a package that is not installed.
    """
    if ":" in name:
        return _load(name, name)
    entry = _lookup(name)
    if isinstance(entry, Mapping):
        if pattern not in entry:
            raise ConfigurationError(
                f"transport {name!r} does not offer pattern {pattern!r}; it offers {', '.join(sorted(entry))}"
            )
        entry = entry[pattern]
    return _load(name, entry)


def create_transport(config: TransportConfig) -> Transport:
    """Create the transport ``config`` describes (not yet bound or connected).

    :raises UnknownTransportError: ``config.transport_type`` names no transport.
    :raises OptionalDependencyError: the transport's optional dependency is missing.
    :raises ConfigurationError: the transport does not support the config.
    """
    if not isinstance(config, TransportConfig):
        raise TypeError(f"create_transport() takes a TransportConfig, got {type(config).__name__}")
    return transport_class(config.transport_type, config.pattern)(config)


def _lookup(name: str) -> _Entry:
    with _lock:
        entry = _registry.get(name)
    if entry is None:
        _load_entry_points()
        with _lock:
            entry = _registry.get(name)
    if entry is None:
        raise UnknownTransportError(
            f"no transport is registered as {name!r}; known: {', '.join(available_transports())} "
            f"(or give 'module:Class')"
        )
    return entry


def _load_entry_points() -> None:
    global _entry_points_loaded
    with _lock:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        eps = metadata.entry_points()
        group = (
            eps.select(group=ENTRY_POINT_GROUP)  # Python >= 3.10
            if hasattr(eps, "select")
            else eps.get(ENTRY_POINT_GROUP, ())  # type: ignore[attr-defined,unused-ignore]
        )
        for ep in group:
            _registry.setdefault(ep.name, ep.value)


def _load(name: str, spec: TransportSpec) -> Type[Transport]:
    if isinstance(spec, str):
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = _INSTALL_HINTS.get(name)
            if hint is None and exc.name == module_name:
                raise UnknownTransportError(
                    f"cannot load transport {name!r}: no module {module_name!r}; "
                    f"check the spelling or install the package that provides it"
                ) from exc
            raise OptionalDependencyError(
                f"transport {name!r} needs {exc.name!r}, which is not installed; "
                f"{hint or 'install the package that provides it'}"
            ) from exc
        try:
            spec = getattr(module, attr)
        except AttributeError:
            raise UnknownTransportError(f"cannot load {spec!r}: {module_name} has no {attr!r}") from None
    if not (isinstance(spec, type) and issubclass(spec, Transport)):
        raise UnknownTransportError(f"transport {name!r} resolves to {spec!r}, not a Transport subclass")
    return spec


def _describe(entry: Optional[_Entry]) -> str:
    if isinstance(entry, type):
        return f"{entry.__module__}:{entry.__qualname__}"
    return repr(entry)
