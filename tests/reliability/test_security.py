"""Security: another local user cannot squat our ipc endpoints; CURVE refuses wrong keys;
and the "outgrown one machine" path — publisher and subscriber on two hosts made of
network namespaces joined by veth, plain ZeroMQ tcp with CURVE on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
from actor_process import Actor
from tea_transports import AddressError, TransportTimeoutError
from tea_transports.zeromq import private_ipc_dir

Make = Callable[..., Any]
NOBODY = 65534
as_root = pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0,
    reason="not applicable here: needs root to act as a second user",
)


def as_other_user(action: Callable[[], None]) -> int:
    """Run ``action`` in a forked child under uid/gid 65534; return its exit status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            os._exit(0)
        except PermissionError:
            os._exit(13)
        except BaseException:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A world-writable directory (like /tmp) that the other user can reach."""
    base = Path(tempfile.mkdtemp(prefix="teashared-", dir="/tmp"))
    base.chmod(0o1777)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@as_root
@pytest.mark.requires("fork")
def test_another_user_cannot_enter_the_private_ipc_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base = tmp_path / "runtime"
    base.mkdir()
    base.chmod(0o1777)  # world-writable like /tmp
    tmp_path.chmod(0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    private = private_ipc_dir()
    assert as_other_user(lambda: (Path(private) / "squat.sock").touch()) == 13


@as_root
@pytest.mark.requires("fork")
def test_a_squatted_predictable_dir_is_refused(monkeypatch: pytest.MonkeyPatch, shared_base: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared_base))
    squatter = shared_base / f"tea-{os.getuid()}"
    assert as_other_user(lambda: squatter.mkdir(mode=0o700)) == 0  # the other user got there first
    with pytest.raises(AddressError, match="someone may be trying to intercept the stream"):
        private_ipc_dir()


def test_curve_client_with_the_wrong_server_key_receives_nothing(
    zmq_transport: Make, curve_keys: Dict[str, str]
) -> None:
    pub = zmq_transport(
        curve_secret_key_file=curve_keys["server_secret"], curve_allowed_clients=curve_keys["allowed"]
    )
    pub.bind("tcp://127.0.0.1:*")
    fooled = zmq_transport(
        curve_secret_key_file=curve_keys["client_secret"],
        curve_server_key_file=curve_keys["impostor_public"],
        receive_timeout=500,
    )
    fooled.connect(pub.endpoint)
    with pytest.raises(TransportTimeoutError):
        pub.wait_for_subscribers(1, timeout=0.5)
    pub.send(b"secret")
    with pytest.raises(TransportTimeoutError):
        fooled.receive()


# -- two hosts: network namespaces joined by veth ------------------------------------------------


def _ip(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["ip", *args], capture_output=True, timeout=30)


@pytest.fixture
def two_hosts() -> Iterator[List[str]]:
    """Namespaces pub-host (10.231.7.1) and sub-host (10.231.7.2), linked by a veth pair."""
    if shutil.which("ip") is None:
        pytest.skip("not applicable here: no `ip` command (iproute2)")
    tag = uuid.uuid4().hex[:6]
    hosts = [f"teapub{tag}", f"teasub{tag}"]
    if _ip("netns", "add", hosts[0]).returncode != 0:
        pytest.skip("not applicable here: creating network namespaces is not permitted")
    try:
        _ip("netns", "add", hosts[1])
        steps = [
            ("link", "add", f"vp{tag}", "type", "veth", "peer", "name", f"vs{tag}"),
            ("link", "set", f"vp{tag}", "netns", hosts[0]),
            ("link", "set", f"vs{tag}", "netns", hosts[1]),
            ("-n", hosts[0], "addr", "add", "10.231.7.1/24", "dev", f"vp{tag}"),
            ("-n", hosts[1], "addr", "add", "10.231.7.2/24", "dev", f"vs{tag}"),
            ("-n", hosts[0], "link", "set", f"vp{tag}", "up"),
            ("-n", hosts[1], "link", "set", f"vs{tag}", "up"),
            ("-n", hosts[0], "link", "set", "lo", "up"),
            ("-n", hosts[1], "link", "set", "lo", "up"),
        ]
        for step in steps:
            result = _ip(*step)
            assert result.returncode == 0, f"ip {' '.join(step)}: {result.stderr.decode()}"
        yield hosts
    finally:
        for host in hosts:
            _ip("netns", "del", host)


def test_across_hosts_with_curve(
    two_hosts: List[str], curve_keys: Dict[str, str], actors: List[Actor]
) -> None:
    pub_host, sub_host = two_hosts
    server = json.dumps(
        {"curve_secret_key_file": curve_keys["server_secret"], "curve_allowed_clients": curve_keys["allowed"]}
    )
    client = json.dumps(
        {
            "curve_secret_key_file": curve_keys["client_secret"],
            "curve_server_key_file": curve_keys["server_public"],
        }
    )
    publisher = Actor(
        "publish", "tcp://10.231.7.1:5555", "net", server, prefix=["ip", "netns", "exec", pub_host]
    )
    actors.append(publisher)
    publisher.expect("bound")
    authorised = Actor(
        "subscribe", "tcp://10.231.7.1:5555", "2000", client, prefix=["ip", "netns", "exec", sub_host]
    )
    plaintext = Actor(
        "subscribe",
        "tcp://10.231.7.1:5555",
        "1",
        '{"receive_timeout": 3000}',
        prefix=["ip", "netns", "exec", sub_host],
    )
    actors.extend([authorised, plaintext])
    authorised.expect("connected")
    plaintext.expect("connected")
    report = authorised.expect("done", timeout=60)
    assert (report["received"], report["gaps"]) == (2000, 0)
    assert plaintext.expect("done", timeout=60)["received"] == 0
