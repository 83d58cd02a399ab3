"""CurveZMQ for the ZeroMQ transports: encryption plus an allow-list of client keys.

Options (key files in ``zmq.auth`` format, e.g. made by ``zmq.auth.create_certificates``):

* publisher (server): ``curve_secret_key_file`` — its own certificate with the secret key;
  ``curve_allowed_clients`` — a directory of the public key files of allowed subscribers.
  A server with a key but no allow-list is refused: libzmq would accept any client key.
* subscriber (client): ``curve_secret_key_file`` — its own certificate;
  ``curve_server_key_file`` — the publisher's public key file.

Allow-lists are enforced by one ZAP authenticator thread per process, started on the
first CURVE publisher; each publisher gets its own ZAP domain, so two publishers can
allow different clients. The domain is removed when the publisher closes. Every ``*.key``
file of the allow-list must parse: one broken file is refused at bind (pyzmq would only
log it and then deny every client). ``reload_allowed_clients()`` on the publisher reads
the directory again (see ``ZeroMQPubSubTransport.reload_allowed_clients``).

libzmq has one ZAP handler per context (``inproc://zeromq.zap.01``). An application that
runs its own ``zmq.auth`` authenticator in the shared context (``zmq.Context.instance()``)
holds that endpoint, so a CURVE publisher here cannot start ours: it is refused with a
``ConfigurationError`` that says so. Run yours in a context of its own, or configure CURVE
on your own sockets instead of through these options.
"""

from __future__ import annotations

import errno
import glob
import itertools
import os
import threading
from typing import Any, Dict, Mapping, Optional

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from ..errors import ConfigurationError

__all__ = [
    "CURVE_OPTIONS",
    "ZAP_ENDPOINT",
    "configure_curve",
    "domains",
    "load_allow_list",
    "release_domain",
    "reload_domain",
    "stop_authenticator",
]

ZAP_ENDPOINT = "inproc://zeromq.zap.01"

CURVE_OPTIONS = frozenset({"curve_secret_key_file", "curve_allowed_clients", "curve_server_key_file"})

_lock = threading.Lock()
_authenticator: Optional[ThreadAuthenticator] = None
_authenticator_pid = -1
_domains = itertools.count()


def configure_curve(sock: zmq.Socket[Any], options: Mapping[str, Any], role: str) -> Optional[str]:
    """Apply the CURVE options to ``sock`` for ``role``; return the publisher's ZAP domain
    (to be given to :func:`release_domain` at close), or None.

    :raises ConfigurationError: the options are incomplete, a key file is unreadable, or
        another ZAP handler holds this process's shared context.
    """
    given = CURVE_OPTIONS & set(options)
    if not given:
        return None
    if not zmq.has("curve"):
        raise ConfigurationError("CURVE options were given, but this libzmq was built without CURVE")
    public, secret = _certificate(options, "curve_secret_key_file", secret=True)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    if role != "publisher":
        server_public, _ = _certificate(options, "curve_server_key_file", secret=False)
        sock.curve_serverkey = server_public
        return None
    allowed = options.get("curve_allowed_clients")
    if not allowed or not os.path.isdir(allowed):
        raise ConfigurationError(
            "a CURVE publisher needs 'curve_allowed_clients', a directory of the allowed "
            f"subscribers' public key files (got {allowed!r}); without it any key would be accepted"
        )
    domain = f"tea-{os.getpid()}-{next(_domains)}"
    keys = load_allow_list(str(allowed))
    authenticator = _running_authenticator()
    authenticator.certs[domain] = keys
    sock.zap_domain = domain.encode()
    sock.curve_server = True
    return domain


def load_allow_list(directory: str) -> Dict[bytes, bool]:
    """Read every ``*.key`` file of ``directory`` as ``zmq.auth.load_certificates`` does,
    but refuse a file that does not parse instead of logging it.

    :raises ConfigurationError: the directory or one of its key files cannot be read.
    """
    keys: Dict[bytes, bool] = {}
    try:
        paths = sorted(glob.glob(os.path.join(glob.escape(directory), "*.key")))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the CURVE allow-list {directory!r}: {exc}") from exc
    for path in paths:
        try:
            public, _ = zmq.auth.load_certificate(path)
            if len(public) != 40 or len(z85.decode(public)) != 32:
                raise ValueError(f"the public key {public[:48]!r} is not 40 Z85 characters")
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigurationError(
                f"cannot read the CURVE allow-list {directory!r}: key file {path!r} does not parse "
                f"({exc}); fix or remove it (a broken allow-list would deny every subscriber)"
            ) from exc
        keys[public] = True
    return keys


def reload_domain(domain: str, directory: str) -> None:
    """Replace ``domain``'s allowed keys with those now in ``directory`` (for new handshakes).

    :raises ConfigurationError: the directory or one of its key files cannot be read.
    """
    keys = load_allow_list(directory)
    with _lock:
        if _authenticator is not None and _authenticator_pid == os.getpid():
            _authenticator.certs[domain] = keys


def release_domain(domain: str) -> None:
    """Forget a closed publisher's ZAP domain (in the process that made it)."""
    with _lock:
        if _authenticator is not None and _authenticator_pid == os.getpid():
            _authenticator.certs.pop(domain, None)


def domains() -> int:
    """How many ZAP domains the authenticator of this process holds (for diagnostics)."""
    with _lock:
        if _authenticator is None or _authenticator_pid != os.getpid():
            return 0
        return len(_authenticator.certs)


def stop_authenticator() -> None:
    """Stop this process's authenticator, if it started one; a forked child never stops
    its parent's (the thread is not there, and stopping it would hang)."""
    global _authenticator
    with _lock:
        authenticator, pid = _authenticator, _authenticator_pid
        if authenticator is None or pid != os.getpid():
            return
        _authenticator = None
    authenticator.stop()


def _certificate(options: Mapping[str, Any], key: str, *, secret: bool) -> tuple[bytes, bytes]:
    path = options.get(key)
    if not path:
        raise ConfigurationError(f"CURVE needs option {key!r} (a zmq.auth key file)")
    try:
        public, secret_key = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the CURVE key file {path!r} ({key}): {exc}") from exc
    if secret and not secret_key:
        raise ConfigurationError(f"{key} {path!r} holds no secret key; give the '.key_secret' file")
    return public, secret_key or b""


def _running_authenticator() -> ThreadAuthenticator:
    global _authenticator, _authenticator_pid
    with _lock:
        if _authenticator is None or _authenticator_pid != os.getpid():
            authenticator = ThreadAuthenticator(zmq.Context.instance())
            try:
                authenticator.start()
            except zmq.ZMQError as exc:
                authenticator.stop()  # closes the ZAP socket it made
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise ConfigurationError(
                    f"cannot start the CURVE authenticator: another ZAP handler (such as the "
                    f"application's own zmq.auth authenticator) is already bound at {ZAP_ENDPOINT} "
                    f"in the shared context zmq.Context.instance(); libzmq allows one per context. "
                    f"Run that authenticator in a context of its own, or stop it before binding"
                ) from None
            _authenticator = authenticator
            _authenticator_pid = os.getpid()
        return _authenticator


def _forget_in_child() -> None:
    """After fork: the authenticator's thread is not in the child; disarm its stop() (run by
    ``__del__``), which would send to the parent's pipe socket and hang."""
    global _authenticator
    authenticator, _authenticator = _authenticator, None
    if authenticator is not None:
        authenticator.pipe = None  # type: ignore[assignment]
        authenticator.thread = None  # type: ignore[assignment]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
