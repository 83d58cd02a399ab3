"""What a report records about the transport and the machine: capabilities and versions."""

from __future__ import annotations

import platform
import sys
from typing import Dict, List, Type

from tea_transports import Transport

from . import __version__ as SUITE_VERSION

__all__ = ["capabilities_of", "versions_of"]


def capabilities_of(cls: Type[Transport]) -> Dict[str, List[str]]:
    """The transport's declared capabilities as sorted lists."""
    caps = cls.capabilities
    return {
        "patterns": sorted(caps.patterns),
        "protocols": sorted(caps.protocols),
        "features": sorted(caps.features),
    }


def versions_of(package: str, package_version: str) -> Dict[str, str]:
    """Python, the suite, the transport's package, pyzmq and libzmq where present, the platform."""
    versions = {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "tea-conformance": SUITE_VERSION,
        package: package_version,
        "platform": platform.platform(),
    }
    zmq = sys.modules.get("zmq")  # only report pyzmq when the run loaded it
    if zmq is not None:
        versions["pyzmq"] = str(zmq.pyzmq_version())
        versions["libzmq"] = str(zmq.zmq_version())
    return versions
