"""What the reference tests run in a fresh interpreter: ``python in_child.py NAME ARG...``.

Each child is a function here, so it is linted and typed like the tests; it reports on
stdout, line by line, to the test that started it (:func:`command`). The package is
imported inside each child, never at the top of this module: some children test what
importing it does.
"""

from __future__ import annotations

import gc
import os
import selectors
import sys
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Union

__all__ = ["command"]

HERE = str(Path(__file__).resolve())


def command(name: str, *args: str) -> List[str]:
    """The command line that runs the child ``NAME(*args)`` in a fresh interpreter."""
    return [sys.executable, HERE, name, *args]


def _pipe(**options: Any) -> Any:
    from tea_transports import TransportConfig, UnixPipeTransport

    return UnixPipeTransport(TransportConfig(options=options))


# -- importing the package -----------------------------------------------------------------


def import_without_zmq() -> None:
    import tea_transports  # noqa: F401

    assert "zmq" not in sys.modules, "zmq imported"


def create_without_pyzmq() -> None:
    """Prints the error that creating a ZeroMQ transport raises where pyzmq is missing."""
    sys.modules["zmq"] = None  # type: ignore[assignment]  # an environment without pyzmq, to import
    from tea_transports import OptionalDependencyError, TransportConfig, create_transport

    try:
        create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
    except OptionalDependencyError as exc:
        print(exc)


def entry_point_acme() -> None:
    """The entry point ``acme`` (on PYTHONPATH) names the pipe transport."""
    from tea_transports import UnixPipeTransport, available_transports, transport_class

    assert "acme" in available_transports()
    assert transport_class("acme") is UnixPipeTransport


def zeromq_subscriber(address: str) -> None:
    """Prints the first message received at ``address``."""
    from tea_transports import TransportConfig, create_transport

    config = TransportConfig(transport_type="zeromq", pattern="pub_sub", options={"receive_timeout": 30000})
    with create_transport(config) as sub:
        sub.connect(address)
        print(sub.receive().decode(), flush=True)


def subscription_storm(mode: str, address: str) -> None:
    """Subscribes to ``keep``, then subscribes and unsubscribes in a loop for at most 60 s,
    or until stdin closes; prints ``up`` once connected and ``over`` when it stops."""
    import time

    from tea_transports import TransportConfig, create_transport

    options = {"subscribe_filter": [b"keep"]}
    with create_transport(TransportConfig(transport_type=mode, pattern="pub_sub", options=options)) as sub:
        sub.connect(address)
        print("up", flush=True)
        stdin = selectors.DefaultSelector()
        stdin.register(sys.stdin, selectors.EVENT_READ)
        deadline, i = time.monotonic() + 60, 0
        while time.monotonic() < deadline and not (i % 100 == 0 and stdin.select(0)):
            sub.subscribe(b"s%d" % (i % 50))
            sub.unsubscribe(b"s%d" % (i % 50))
            i += 1
        print("over", flush=True)


# -- the pipe transport across processes ---------------------------------------------------


def fifo_consumer(address: str, count: str) -> None:
    """Writes ``count`` messages received at ``address``, comma-separated."""
    with _pipe(receive_timeout=10000) as reader:
        reader.connect(address)
        sys.stdout.write(",".join(reader.receive().decode() for _ in range(int(count))))


def consumer(address: str) -> None:
    """Reports "connected", then prints the one message it receives."""
    with _pipe(receive_timeout=20000) as reader:
        reader.connect(address)
        print("connected", flush=True)
        print(reader.receive().decode(), flush=True)


# -- a forked child must not harm the parent -----------------------------------------------


def fork_leaves_the_parent_alone(path: str) -> None:
    from tea_transports import TransportStateError

    writer = _pipe(send_timeout=5000)
    writer.bind("ipc://" + path)
    reader = _pipe(receive_timeout=5000)
    reader.connect("ipc://" + path)
    named = _pipe()
    named.bind("inproc://jobs")
    pid = os.fork()
    if pid == 0:  # the child: use, close and drop its inherited copies, then exit normally
        with _pipe() as own:  # the parent's names are not taken here
            own.bind("inproc://jobs")
        try:
            writer.send(b"from the child")
            print("child: send worked", flush=True)
        except TransportStateError as exc:
            print("child: refused:", exc, flush=True)
        reader.close()
        assert not reader.is_connected
        del writer  # garbage collection of an unclosed copy, as at a child's exit
        gc.collect()
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
    print("fifo exists:", os.path.exists(path))
    with selectors.DefaultSelector() as wakes:
        wakes.register(writer._wake.fileno(), selectors.EVENT_READ)
        wakes.register(reader._wake.fileno(), selectors.EVENT_READ)
        print("wake pipes quiet:", not wakes.select(0))
    writer.send(b"after the fork")
    print("parent received:", reader.receive())
    writer.close()
    reader.close()
    named.close()
    print("fifo removed by its owner:", not os.path.exists(path))


def fork_while_another_thread_waits(path: str) -> None:
    from tea_transports import TransportClosedError, TransportStateError

    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads running
    writer = _pipe()
    writer.bind("ipc://" + path)
    reader = _pipe()
    reader.connect("ipc://" + path)
    outcome: List[Union[bytes, Exception]] = []

    def receive() -> None:
        try:
            outcome.append(reader.receive())
        except TransportClosedError as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=receive)
    waiter.start()
    while not reader._io_lock._is_owned() and waiter.is_alive():  # poll: the wait has begun
        if reader._io_lock.acquire(blocking=False):
            reader._io_lock.release()
        else:
            break
    pid = os.fork()
    if pid == 0:  # the waiting thread does not exist here, but its lock was copied held
        operations: Dict[str, Callable[[], Any]] = {
            "receive": reader.receive,
            "send": lambda: writer.send(b"x"),
        }
        for name, operation in operations.items():
            try:
                operation()
            except TransportStateError as exc:
                print("child refused", name, "created in process" in str(exc), flush=True)
        reader.close()
        writer.close()
        os._exit(0)
    os.waitpid(pid, 0)
    writer.send(b"parent still works")
    waiter.join(10)
    print("parent received:", outcome)
    reader.close()
    writer.close()


def forked_child_holds_nothing(path: str) -> None:
    from tea_transports import BrokenTransportError, TransportTimeoutError

    writer = _pipe()
    writer.bind("ipc://" + path)
    reader = _pipe(receive_timeout=3000)
    reader.connect("ipc://" + path)
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a child that lives on without touching the transports
        os.read(release_r, 1)
        os._exit(0)
    writer.send(b"last")
    writer.close()  # the producer is gone: the reader must see the end of the stream
    print("received:", reader.receive())
    try:
        reader.receive()
    except BrokenTransportError:
        print("end of stream while the child lives")
    except TransportTimeoutError:
        print("no end of stream: the child keeps the pipe open")
    os.write(release_w, b"x")
    os.waitpid(pid, 0)
    reader.close()


# -- close() from a signal handler while the same thread waits -----------------------------


def close_from_a_signal_handler(operation: str, path: str, reenter: str) -> None:
    """Waits in ``operation`` (receive or send) until SIGTERM's handler closes the transport;
    with ``reenter`` == "reenter", the handler first calls the interrupted operation again."""
    import signal

    from tea_transports import NOBLOCK, TransportClosedError, TransportStateError

    writer = _pipe()
    writer.bind("ipc://" + path)
    reader = _pipe()
    reader.connect("ipc://" + path)
    blocked = reader if operation == "receive" else writer

    def waiting_in(frame: Optional[FrameType], name: str) -> bool:
        while frame is not None:
            if frame.f_code.co_name == name and frame.f_locals.get("self") is blocked:
                return True
            frame = frame.f_back
        return False

    def on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
        # graceful shutdown, as applications write it; signals that arrive outside the
        # wait (before it, or between two sends while the pipe still had room) are ignored,
        # so the test always exercises close() during the wait
        if waiting_in(frame, "_wait"):
            if reenter == "reenter":  # the same call again, from inside the interrupted one: refused
                try:
                    blocked.receive(flags=NOBLOCK) if operation == "receive" else blocked.send(b"y")
                except TransportStateError as exc:
                    print("re-entry refused:", "signal handler" in str(exc), flush=True)
            blocked.close()

    signal.signal(signal.SIGTERM, on_sigterm)
    print("ready", flush=True)
    try:
        if operation == "receive":
            reader.receive()  # nothing is ever sent: only close() can end it
        else:
            chunk = b"x" * 65536
            while True:  # nobody reads: the pipe fills and send() waits for room
                writer.send(chunk)
    except TransportClosedError as exc:
        print("closed:", exc, flush=True)
    print("connected after close:", blocked.is_connected)
    blocked.close()  # still idempotent
    writer.close()
    reader.close()
    # the test keeps signalling until this process ends: at exit Python restores the default
    # handler (which would kill it), but not an ignored signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("fifo removed:", not os.path.exists(path))


# -- a transport dropped without close() -----------------------------------------------------


def dropped_unclosed(role: str, how: str) -> None:
    """Drops a publisher or subscriber without close(), ``dropped`` or ``in-a-cycle``, but
    keeps its socket; that socket then sees a peer come or go. Prints ``delivered`` when the
    process's tcp still works after that, ``frozen`` when it does not."""
    import zmq
    from tea_transports import TransportConfig, create_transport

    context = zmq.Context.instance()
    options = {} if role == "publisher" else {"max_message_size": 1024}  # watched for drops
    transport = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options))
    peer = context.socket(zmq.SUB if role == "publisher" else zmq.XPUB)
    peer.linger = 0
    if role == "publisher":
        transport.bind("tcp://127.0.0.1:*")
        address = str(transport.endpoint)
    else:
        address = f"tcp://127.0.0.1:{peer.bind_to_random_port('tcp://127.0.0.1')}"
        transport.connect(address)
    sock = transport._socket
    if how == "in-a-cycle":
        transport.cycle = transport
    del transport
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # unclosed: the point of this child
        gc.collect()
    if role == "publisher":  # a subscriber comes (its subscription arrives) and goes
        peer.subscribe(b"")
        peer.connect(address)
        arrived = sock.poll(5000)
    else:  # the subscriber's subscription arrives, then its publisher goes
        arrived = peer.poll(5000)
    peer.close()
    print("delivered" if arrived and _still_delivers(context) else "frozen")
    sys.stdout.flush()
    os._exit(0)  # a frozen I/O thread would hold the exit


def _still_delivers(context: Any) -> bool:
    """Whether a new PUB/SUB pair delivers over tcp within 10 s."""
    import time

    import zmq

    pub, sub = context.socket(zmq.PUB), context.socket(zmq.SUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub.subscribe(b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    until = time.monotonic() + 10
    while time.monotonic() < until:
        pub.send(b"probe")
        if sub.poll(50):
            return True
    return False


def monitor_out_of_descriptors(role: str, directory: str) -> None:
    """Binds (``publisher``) or connects (``subscriber``, which has a monitor with
    ``max_message_size``) under descriptor limits one apart, so that some attempt runs out
    between the socket and its monitor's reader; after each, a peer comes (the publisher)
    or goes (the subscriber's). Prints the kinds of failure (``TransportError`` or a raw
    one), whether some attempt succeeded, then whether tcp still works. The publisher binds
    ipc: a tcp bind that runs out aborts inside libzmq (``ip_resolver.cpp``)."""
    import resource

    import zmq
    from tea_transports import TransportConfig, TransportError, create_transport

    context = zmq.Context.instance()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    options = {} if role == "publisher" else {"max_message_size": 1024}
    failures: List[str] = []
    succeeded = 0
    for extra in range(16):  # from failing at once to succeeding
        peer = context.socket(zmq.SUB if role == "publisher" else zmq.XPUB)
        peer.linger = 0
        if role == "publisher":
            address = f"ipc://{directory}/{extra}.sock"
        else:  # its publisher on tcp: libzmq's ipc listener aborts if it runs out accepting
            address = f"tcp://127.0.0.1:{peer.bind_to_random_port('tcp://127.0.0.1')}"
        config = TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options)
        transport = create_transport(config)
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + extra, hard))
        try:
            if role == "publisher":
                transport.bind(address)
            else:
                transport.connect(address)
            succeeded += 1
        except Exception as exc:
            failures.append("TransportError" if isinstance(exc, TransportError) else type(exc).__name__)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if role == "publisher":  # a bound socket left behind sees this peer come
            peer.connect(address)
        peer.close()
        transport.close()
    print(" ".join(sorted(set(failures))) or "none", "succeeded" if succeeded else "never-succeeded")
    print("delivered" if _still_delivers(context) else "frozen")
    sys.stdout.flush()
    os._exit(0)


def close_after_context_term() -> None:
    """A subscriber with a monitor, blocked in receive(); another thread terminates the
    shared context (pyzmq's way to end blocked calls). Prints what receive() raised, what
    close() did, and whether term() ended."""
    import zmq
    from tea_transports import TransportConfig, create_transport

    context = zmq.Context.instance()
    peer = context.socket(zmq.XPUB)
    peer.linger = 0
    port = peer.bind_to_random_port("tcp://127.0.0.1")
    options = {"max_message_size": 1024}
    sub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options))
    sub.connect(f"tcp://127.0.0.1:{port}")
    assert peer.poll(10_000), "the subscription never arrived"
    outcome: List[str] = []

    def receive_then_close() -> None:
        try:
            sub.receive()
        except Exception as exc:
            outcome.append(type(exc).__name__)
        try:
            sub.close()
            outcome.append("closed")
        except BaseException as exc:
            outcome.append(f"close raised {type(exc).__name__}")

    receiver = threading.Thread(target=receive_then_close, daemon=True)
    receiver.start()
    peer.close()
    terminator = threading.Thread(target=context.term, daemon=True)
    terminator.start()
    receiver.join(10)
    terminator.join(10)
    print(" ".join(outcome), "term ended" if not terminator.is_alive() else "term hangs")
    sys.stdout.flush()
    os._exit(0)


CHILDREN: Dict[str, Callable[..., None]] = {
    child.__name__: child
    for child in (
        import_without_zmq,
        create_without_pyzmq,
        entry_point_acme,
        zeromq_subscriber,
        subscription_storm,
        fifo_consumer,
        consumer,
        fork_leaves_the_parent_alone,
        fork_while_another_thread_waits,
        forked_child_holds_nothing,
        close_from_a_signal_handler,
        dropped_unclosed,
        monitor_out_of_descriptors,
        close_after_context_term,
    )
}


if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    CHILDREN[name](*arguments)
