"""ZeroMQ transports (needs the ``zeromq`` extra: ``pip install 'tea-transports[zeromq]'``)."""

from __future__ import annotations

from .addresses import IPC_PATH_MAX_LEN, local_endpoint, private_ipc_dir, validate_address
from .base import ZEROMQ_OPTIONS, ZeroMQTransport
from .diagnostics import LOGGER_NAME
from .pubsub import ZeroMQPubSubTransport
from .stream import STREAM_OPTIONS, ZeroMQStreamTransport

__all__ = [
    "IPC_PATH_MAX_LEN",
    "LOGGER_NAME",
    "STREAM_OPTIONS",
    "ZEROMQ_OPTIONS",
    "ZeroMQPubSubTransport",
    "ZeroMQStreamTransport",
    "ZeroMQTransport",
    "local_endpoint",
    "private_ipc_dir",
    "validate_address",
]
