"""Story 002.1's contract: TransportConfig, options, errors, the public face, the factory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import in_child
import pytest
import tea_transports
from tea_transports import (
    Capabilities,
    ConfigurationError,
    OptionalDependencyError,
    Transport,
    TransportConfig,
    TransportError,
    UnixPipeTransport,
    UnknownTransportError,
    create_transport,
    register_transport,
    transport_class,
)


def test_all_is_exact() -> None:
    public = {name for name in dir(tea_transports) if not name.startswith("_")}
    modules = {"base", "errors", "factory", "options", "unix", "zeromq"}
    assert set(tea_transports.__all__) - {"__version__", "ZeroMQPubSubTransport"} == public - modules
    for name in tea_transports.__all__:
        assert getattr(tea_transports, name) is not None


def test_import_does_not_import_zmq() -> None:
    subprocess.run(in_child.command("import_without_zmq"), check=True, timeout=60)


def test_missing_pyzmq_is_a_clear_error_at_creation() -> None:
    child = in_child.command("create_without_pyzmq")
    out = subprocess.run(child, capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'tea-transports[zeromq]'" in out.stdout
    assert issubclass(OptionalDependencyError, TransportError)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [("protocol", "udp", "'ipc', 'tcp', 'inproc'"), ("pattern", "fanout", "'direct', 'pub_sub'")],
)
def test_invalid_config_names_field_and_allowed_values(field: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{field} must be one of {allowed}.*got '{value}'"):
        TransportConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"high_water_mark": -1}, "'high_water_mark' must be >= 0"),
        ({"high_water_mark": "10"}, "'high_water_mark' must be an integer"),
        ({"high_water_mark": True}, "'high_water_mark' must be an integer"),
        ({"linger": -2}, "'linger' must be >= -1"),
        ({"receive_timeout": 1.5}, "'receive_timeout' must be an integer"),
        ({"on_hwm": "wait"}, "'on_hwm' must be one of 'drop', 'block'"),
        ({"subscribe_filter": 3}, "prefix must be bytes or str"),
        ({"subscribe_filter": []}, "empty list"),
    ],
)
def test_invalid_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TransportConfig(options=options)


def test_options_are_not_shared() -> None:
    mine = {"linger": 5}
    a, b = TransportConfig(options=mine), TransportConfig()
    a.options["linger"] = 7
    assert mine == {"linger": 5}
    assert b.options == {}
    assert TransportConfig().options is not TransportConfig().options


def test_defaults() -> None:
    config = TransportConfig()
    assert (config.transport_type, config.protocol, config.pattern) == ("unix", "ipc", "direct")
    options = UnixPipeTransport(config).options
    assert (options.high_water_mark, options.linger, options.subscribe_filter) == (1000, 1000, (b"",))


def test_unknown_option_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        ConfigurationError, match="does not know option.*heigh_water_mark; known: .*high_water_mark"
    ):
        UnixPipeTransport(TransportConfig(options={"heigh_water_mark": 1}))


def test_unsupported_pattern_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="does not support pattern 'pub_sub'"):
        UnixPipeTransport(TransportConfig(pattern="pub_sub"))


def test_factory_dispatch() -> None:
    assert type(create_transport(TransportConfig())) is UnixPipeTransport
    pubsub = transport_class("zeromq", "pub_sub")
    assert pubsub.__name__ == "ZeroMQPubSubTransport"
    assert tea_transports.ZeroMQPubSubTransport is pubsub
    with pytest.raises(
        ConfigurationError, match="'zeromq' does not offer pattern 'push_pull'; it offers pub_sub"
    ):
        create_transport(TransportConfig(transport_type="zeromq", pattern="push_pull"))


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(
        UnknownTransportError, match="no transport is registered as 'nope'; known: .*unix.*zeromq"
    ):
        create_transport(TransportConfig(transport_type="nope"))


def test_module_class_spec_and_registry_conflicts() -> None:
    cls = transport_class("tea_transports.unix:UnixPipeTransport")
    assert cls is UnixPipeTransport
    register_transport("test-pipe", UnixPipeTransport)
    register_transport("test-pipe", UnixPipeTransport)  # the same again is fine
    with pytest.raises(ConfigurationError, match="already registered"):
        register_transport("test-pipe", "tea_transports.zeromq.pubsub:ZeroMQPubSubTransport")
    register_transport("test-pipe", "tea_transports.unix:UnixPipeTransport", replace=True)
    assert transport_class("test-pipe") is UnixPipeTransport
    with pytest.raises(UnknownTransportError, match="no module 'no_such_module'"):
        transport_class("no_such_module:Thing")
    with pytest.raises(UnknownTransportError, match="not a Transport subclass"):
        transport_class("tea_transports.base:TransportConfig")


def test_entry_point_transports_are_found(tmp_path: Path) -> None:
    dist = tmp_path / "acme_transport-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-transport\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[tea_transports.transports]\nacme = tea_transports.unix:UnixPipeTransport\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    subprocess.run(in_child.command("entry_point_acme"), check=True, timeout=60, env=env)


def test_abstract_members_declare_their_errors() -> None:
    for name in ("bind", "connect", "send", "receive"):
        doc = getattr(Transport, name).__doc__
        assert ":raises TransportClosedError:" in doc, name
    assert Transport.__abstractmethods__ == {"bind", "connect", "send", "receive", "close", "is_connected"}


class _Shallow(Transport):
    """A transport whose queues hold at most 100 messages."""

    capabilities = Capabilities(
        patterns=frozenset({"pub_sub"}), protocols=frozenset({"inproc"}), max_high_water_mark=100
    )

    def bind(self, address: str) -> None: ...
    def connect(self, address: str) -> None: ...
    def send(self, data: Any, flags: int = 0) -> int:
        return 0

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        return b""

    def close(self) -> None: ...
    @property
    def is_connected(self) -> bool:
        return False


def _shallow(**options: Any) -> _Shallow:
    return _Shallow(TransportConfig(pattern="pub_sub", options=options))


def test_a_declared_maximum_mark_caps_the_default_and_refuses_more_or_none() -> None:
    assert _shallow().options.high_water_mark == 100  # the default (1000), capped
    assert _shallow(high_water_mark=100).options.high_water_mark == 100
    for mark in (101, 0):  # deeper, or without limit
        with pytest.raises(ConfigurationError, match=f"high_water_mark={mark}.*its limit is 100"):
            _shallow(high_water_mark=mark)


@pytest.mark.parametrize("limit", [0, -5, True, 100.5, "100"])
def test_a_maximum_mark_that_is_not_a_positive_int_is_refused(limit: Any) -> None:
    with pytest.raises(TypeError, match="max_high_water_mark must be None or an int >= 1"):
        Capabilities(patterns=frozenset({"pub_sub"}), protocols=frozenset(), max_high_water_mark=limit)
