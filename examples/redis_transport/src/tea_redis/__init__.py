"""A second worked example of a TEA transport: PUB/SUB through a Redis broker.

Install it (``pip install ./examples/redis_transport``) and certify it with a running
``redis-server``::

    TEA_REDIS_SERVER=127.0.0.1:6379 pytest --transport=redis
"""

from __future__ import annotations

from .transport import SERVER_ENV, RedisPubSubTransport

__all__ = ["SERVER_ENV", "RedisPubSubTransport"]
