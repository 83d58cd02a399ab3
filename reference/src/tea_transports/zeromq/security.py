"""CurveZMQ for the ZeroMQ transports: encryption plus an allow-list of client keys.

Options (key files in ``zmq.auth`` format, e.g. made by ``zmq.auth.create_certificates``):

* publisher (server): ``curve_secret_key_file`` — its own certificate with the secret key;
  ``curve_allowed_clients`` — a directory of the public key files of allowed subscribers.
  A server with a key but no allow-list is refused: libzmq would accept any client key.
* subscriber (client): ``curve_secret_key_file`` — its own certificate;
  ``curve_server_key_file`` — the publisher's public key file.

Allow-lists are enforced by one ZAP authenticator thread per process, started on the
first CURVE publisher; each publisher gets its own ZAP domain, so two publishers can
allow different clients.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
from typing import Any, Mapping, Optional

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from ..errors import ConfigurationError

__all__ = ["CURVE_OPTIONS", "configure_curve"]

CURVE_OPTIONS = frozenset({"curve_secret_key_file", "curve_allowed_clients", "curve_server_key_file"})

_lock = threading.Lock()
_authenticator: Optional[ThreadAuthenticator] = None
_authenticator_pid = -1
_domains = itertools.count()


def configure_curve(sock: zmq.Socket[Any], options: Mapping[str, Any], role: str) -> bool:
    """Apply the CURVE options to ``sock`` for ``role``; return whether CURVE is on.

    :raises ConfigurationError: the options are incomplete, or a key file is unreadable.
    """
    given = CURVE_OPTIONS & set(options)
    if not given:
        return False
    if not zmq.has("curve"):
        raise ConfigurationError("CURVE options were given, but this libzmq was built without CURVE")
    public, secret = _certificate(options, "curve_secret_key_file", secret=True)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    if role == "publisher":
        allowed = options.get("curve_allowed_clients")
        if not allowed or not os.path.isdir(allowed):
            raise ConfigurationError(
                "a CURVE publisher needs 'curve_allowed_clients', a directory of the allowed "
                f"subscribers' public key files (got {allowed!r}); without it any key would be accepted"
            )
        domain = f"tea-{os.getpid()}-{next(_domains)}"
        _running_authenticator().configure_curve(domain=domain, location=str(allowed))
        sock.zap_domain = domain.encode()
        sock.curve_server = True
    else:
        server_public, _ = _certificate(options, "curve_server_key_file", secret=False)
        sock.curve_serverkey = server_public
    return True


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
            _authenticator = ThreadAuthenticator(zmq.Context.instance())
            _authenticator.start()
            _authenticator_pid = os.getpid()
            atexit.register(_authenticator.stop)
        return _authenticator
