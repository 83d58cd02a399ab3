"""CURVE in real processes: an application's own authenticator is named in the error, and a
forked child of a CURVE publisher exits."""

from __future__ import annotations

from typing import Dict

import pytest
from scripts import run_script

FOREIGN_ZAP = """
import json, zmq
from zmq.auth.thread import ThreadAuthenticator
from tea_transports import ConfigurationError, TransportConfig, create_transport
mine = ThreadAuthenticator(zmq.Context.instance())
mine.start()
pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options={
    "curve_secret_key_file": SECRET, "curve_allowed_clients": ALLOWED}))
try:
    pub.bind("tcp://127.0.0.1:*")
    outcome = "bound"
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)
mine.stop()
print(json.dumps({"outcome": outcome}))
"""


FORKED_CURVE_CHILD = """
import json, os, time
from tea_transports import TransportConfig, TransportStateError, create_transport
pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options={
    "curve_secret_key_file": SECRET, "curve_allowed_clients": ALLOWED}))
pub.bind("tcp://127.0.0.1:*")
pid = os.fork()
if pid == 0:
    try:
        pub.send(b"x")
    except TransportStateError:
        pass
    raise SystemExit(0)  # a normal exit: atexit hooks and garbage collection run
deadline = time.monotonic() + 20
while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG)[0] == 0:
    pass
exited = os.waitpid(pid, os.WNOHANG) if time.monotonic() >= deadline else (pid, 0)
if time.monotonic() >= deadline:
    os.kill(pid, 9)
pub.close()
print(json.dumps({"child_exited": time.monotonic() < deadline}))
"""


def test_own_zap_authenticator_conflict_is_named(curve_keys: Dict[str, str]) -> None:
    code = FOREIGN_ZAP.replace("SECRET", repr(curve_keys["server_secret"]))
    result = run_script(code.replace("ALLOWED", repr(curve_keys["allowed"])))
    assert result["outcome"].startswith("ConfigurationError"), result
    assert "zeromq.zap.01" in result["outcome"] and "authenticator" in result["outcome"]


@pytest.mark.requires("fork")
def test_forked_child_of_a_curve_publisher_exits(curve_keys: Dict[str, str]) -> None:
    code = FORKED_CURVE_CHILD.replace("SECRET", repr(curve_keys["server_secret"]))
    result = run_script(code.replace("ALLOWED", repr(curve_keys["allowed"])), timeout=60)
    assert result == {"child_exited": True}, "the forked child hung at exit in the parent's authenticator"
