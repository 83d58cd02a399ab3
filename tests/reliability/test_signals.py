"""Signals in real processes: close() from a handler, and SIGTERM from another process, end a
waiting receive()."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scripts import run_script

SIGNAL_CLOSE = """
import json, signal, threading
from tea_transports import TransportClosedError, TransportConfig, create_transport
make = lambda **o: create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=o))
pub = make()
pub.bind("tcp://127.0.0.1:*")
stop = threading.Event()
ended = 0
for trial in range(TRIALS):
    sub = make()
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=10)
    feeder = threading.Thread(target=lambda: [pub.send(b"x") for _ in range(200)])
    feeder.start()  # so the signal sometimes lands inside a socket call, lock held
    signal.signal(signal.SIGALRM, lambda *_: sub.close())
    signal.setitimer(signal.ITIMER_REAL, 0.001 + (trial % 20) / 2000)
    try:
        while True:
            sub.receive()
    except TransportClosedError:
        ended += 1
    feeder.join()
    assert not sub.is_connected
    pub.wait_for_subscribers(0, timeout=1)
print(json.dumps({"ended": ended}))
"""


SIGTERM_CLOSE = """
import json, signal, sys
from tea_transports import TransportClosedError, TransportConfig, create_transport
sub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
sub.connect("tcp://127.0.0.1:1")
signal.signal(signal.SIGTERM, lambda *_: sub.close())
print(json.dumps({"event": "waiting"}), flush=True)
try:
    sub.receive()
except TransportClosedError:
    print(json.dumps({"event": "closed"}), flush=True)
"""


@pytest.mark.requires("sigalrm")
def test_close_from_a_signal_handler() -> None:
    trials = 100
    result = run_script(SIGNAL_CLOSE.replace("TRIALS", str(trials)), timeout=120)
    print(f"FIGURE close() from SIGALRM during receive(): {result['ended']} of {trials} ended closed")
    assert result["ended"] == trials


@pytest.mark.requires("job_control")  # kill -TERM from another process
def test_sigterm_from_another_process_closes_a_waiting_receive() -> None:
    process = subprocess.Popen([sys.executable, "-c", SIGTERM_CLOSE], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["event"] == "waiting"
        # wait until the receive() is inside its wait: then SIGTERM, from another process
        killer = subprocess.run(["kill", "-TERM", str(process.pid)], timeout=10)
        assert killer.returncode == 0
        assert process.wait(20) == 0
        assert json.loads(process.stdout.readline())["event"] == "closed"
    finally:
        process.kill()
        process.wait()
        if process.stdout:
            process.stdout.close()
