"""Publisher and subscriber processes for the fault tests, driven by the command line and
reporting one JSON object per line on stdout (so `ip netns exec` can run them too).

    python actors.py subscribe ADDRESS COUNT [OPTIONS_JSON]
    python actors.py publish ADDRESS TAG [OPTIONS_JSON]

A subscriber given ``"hold": true`` stays connected after its report until a line (or the
end) arrives on its stdin, so a test can count it before it leaves.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, Dict

from tea_transports import TransportConfig, TransportTimeoutError, create_transport


def report(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def make(options: Dict[str, Any]) -> Any:
    return create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options))


def subscribe(address: str, count: int, options: Dict[str, Any]) -> None:
    """Receive COUNT numbered messages; report how many arrived and any gap in the numbers."""
    hold = options.pop("hold", False)
    options.setdefault("receive_timeout", 10_000)
    with make(options) as sub:
        sub.connect(address)
        report(event="connected")
        got, gaps, previous = 0, 0, None
        try:
            while got < count:
                number = int(sub.receive().rsplit(b":", 1)[-1])
                gaps += previous is not None and number != previous + 1
                previous = number
                got += 1
        except TransportTimeoutError:
            pass
        report(event="done", received=got, gaps=gaps, last=previous)
        if hold:
            sys.stdin.readline()


def publish(address: str, tag: str, options: Dict[str, Any]) -> None:
    """Publish TAG:NUMBER messages, about 2,000 a second, until killed."""
    pace = threading.Event()
    with make(options) as pub:
        pub.bind(address)
        report(event="bound", endpoint=pub.endpoint)
        number = 0
        while True:
            pub.send(b"%s:%08d" % (tag.encode(), number))
            number += 1
            pace.wait(0.0005)  # a traffic generator's pace, not a synchronisation


if __name__ == "__main__":
    role, address, arg = sys.argv[1:4]
    extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    {
        "subscribe": lambda: subscribe(address, int(arg), extra),
        "publish": lambda: publish(address, arg, extra),
    }[role]()
