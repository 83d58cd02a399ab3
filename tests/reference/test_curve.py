"""CURVE over its lifetime: key files checked at bind, allow-lists reloaded, ZAP domains removed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import zmq
from tea_transports import (
    ConfigurationError,
    TransportConfig,
    TransportTimeoutError,
    create_transport,
)
from tea_transports.zeromq import security

Make = Callable[..., Any]


# -- CURVE lifecycle -------------------------------------------------------------------------------


def _curve_pub(make: Make, keys: Dict[str, str]) -> Any:
    return make(curve_secret_key_file=keys["server_secret"], curve_allowed_clients=keys["allowed"])


def _curve_sub(make: Make, keys: Dict[str, str], secret: str) -> Any:
    return make(
        curve_secret_key_file=secret, curve_server_key_file=keys["server_public"], receive_timeout=300
    )


def _receives(sub: Any, pub: Any, tag: bytes, tries: int = 60) -> bool:
    for _ in range(tries):  # each try waits receive_timeout (300 ms)
        pub.send(tag)
        try:
            if sub.receive() == tag:
                return True
        except TransportTimeoutError:
            continue
    return False


def test_unparsable_key_file_is_refused_at_bind(zmq_transport: Make, curve_keys: Dict[str, str]) -> None:
    broken = Path(curve_keys["allowed"]) / "broken.key"
    broken.write_text('this is not a certificate\ncurve\n    public-key = "short"\n')
    pub = _curve_pub(zmq_transport, curve_keys)
    with pytest.raises(ConfigurationError, match=r"broken\.key"):
        pub.bind("tcp://127.0.0.1:*")
    assert pub.is_connected is False


def test_reload_allowed_clients(zmq_transport: Make, curve_keys: Dict[str, str], tmp_path: Path) -> None:
    newcomer_public, newcomer_secret = zmq.auth.create_certificates(str(tmp_path), "newcomer")
    pub = _curve_pub(zmq_transport, curve_keys)
    pub.bind("tcp://127.0.0.1:*")
    old = _curve_sub(zmq_transport, curve_keys, curve_keys["client_secret"])
    early = _curve_sub(zmq_transport, curve_keys, newcomer_secret)
    old.connect(pub.endpoint)
    early.connect(pub.endpoint)
    assert _receives(old, pub, b"before")
    assert not _receives(early, pub, b"before", tries=3)
    allowed = Path(curve_keys["allowed"])
    for key in allowed.glob("*.key"):
        key.unlink()  # revoke the old client
    shutil.copy(newcomer_public, allowed)  # admit the newcomer
    pub.reload_allowed_clients()
    # libzmq never retries a connection that authentication refused: the newcomer connects anew
    new = _curve_sub(zmq_transport, curve_keys, newcomer_secret)
    new.connect(pub.endpoint)
    assert _receives(new, pub, b"after"), "a key added to the allow-list never started receiving"
    for _ in range(20):
        pub.send(b"after")
    got: List[bytes] = []
    with pytest.raises(TransportTimeoutError):
        while True:
            got.append(old.receive())
    assert b"after" not in got, "a revoked key still receives"
    assert pub.wait_for_subscribers(1, timeout=5) == 1


def test_zap_domains_are_removed_at_close(zmq_transport: Make, curve_keys: Dict[str, str]) -> None:
    def domains() -> int:
        authenticator = security._authenticator
        return 0 if authenticator is None else len(authenticator.certs)

    first = _curve_pub(zmq_transport, curve_keys)
    first.bind("tcp://127.0.0.1:*")
    before = domains()
    for _ in range(500):
        pub = create_transport(
            TransportConfig(
                transport_type="zeromq",
                pattern="pub_sub",
                options={
                    "curve_secret_key_file": curve_keys["server_secret"],
                    "curve_allowed_clients": curve_keys["allowed"],
                },
            )
        )
        pub.bind("tcp://127.0.0.1:*")
        pub.close()
    assert domains() == before, f"{domains() - before} ZAP domain(s) left behind by 500 closed publishers"
