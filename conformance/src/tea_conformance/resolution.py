"""From ``--transport=NAME`` to the class under test, or one clear line saying why not.

Every failure to load a transport is a usage error (pytest's exit code 4, nothing
certified, no report), said once before anything runs: an unknown name, a missing
optional dependency, and a module that fails while it is imported (a ``SyntaxError``,
a ``ValueError`` raised at import, ...) — the last with the file and line it failed at.

A ``module:Class`` whose module lies in the directory pytest was started from loads as
under ``python -m pytest`` (which puts that directory first on ``sys.path``): plain
``pytest`` does not, so the directory is added, for this process and the processes the
suite starts, only when the module is found nowhere else.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import List, Optional

import pytest
from tea_transports import ConfigurationError, TransportConfig, TransportError, transport_class

from .harness import Target

__all__ = ["CONSTRUCT_LIMIT", "resolve"]

#: how long building and closing one instance may take before the run starts (a JVM, a broker)
CONSTRUCT_LIMIT = 90.0


def resolve(name: str, invocation_dir: Optional[Path] = None) -> Target:
    """The class ``name`` names; any error is a :class:`pytest.UsageError`.

    ``exec:COMMAND`` names a driver process behind the control protocol (``remote/``)."""
    if name.startswith("exec:"):
        from .remote import remote_target

        target = remote_target(name)
        _try_construct(target)
        return target
    if invocation_dir is not None:
        _importable_from(name, invocation_dir)
    try:
        cls = transport_class(name, "pub_sub")
    except ConfigurationError as not_pub_sub:  # the name is known but offers no pub_sub
        try:
            cls = transport_class(name, "direct")
        except TransportError as exc:
            raise pytest.UsageError(f"--transport={name}: {not_pub_sub}; and for 'direct': {exc}") from None
    except TransportError as exc:  # unknown name, missing optional dependency: said as it is
        raise pytest.UsageError(f"--transport={name}: {exc}") from None
    except (Exception, SystemExit) as exc:  # the transport's own module failed while it was imported
        raise pytest.UsageError(f"--transport={name}: loading it failed at {_where(exc)}") from None
    target = Target(name, cls)
    _try_construct(target)
    return target


def _importable_from(name: str, directory: Path) -> None:
    """Put ``directory`` on the import path if ``name``'s module lies there and nowhere else."""
    module, colon, _ = name.partition(":")
    if not colon or "." in module or not module.isidentifier() or module in sys.modules:
        return
    here = directory / f"{module}.py"
    package = directory / module / "__init__.py"
    if not (here.is_file() or package.is_file()) or str(directory) in sys.path:
        return
    if importlib.util.find_spec(module) is not None:
        return  # an installed module of that name wins, as it would under python -m pytest
    sys.path.insert(0, str(directory))
    # the processes the suite starts (E2E scenarios) load the same module
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))


def _where(exc: BaseException) -> str:
    """``file:line: Kind: message``, the file and line being where the import failed."""
    if isinstance(exc, SyntaxError) and exc.filename:
        place = f"{exc.filename}:{exc.lineno}"
        message = exc.msg
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        frame = frames[-1] if frames else None
        place = f"{frame.filename}:{frame.lineno}" if frame else "(unknown place)"
        message = str(exc)
    return f"{place}: {type(exc).__name__}: {message}"


def _try_construct(target: Target) -> None:
    """Build and close one instance: a constructor that raises fails every scenario the same way."""
    pattern = target.pattern_for(("pub_sub", "direct"))
    if pattern is None:
        return  # the verdict names the missing pattern
    config = TransportConfig(transport_type=target.name, protocol=target.any_protocol(), pattern=pattern)
    failure: List[BaseException] = []

    def construct() -> None:
        try:
            target.cls(config).close()
        except (Exception, SystemExit) as exc:
            failure.append(exc)

    # a thread, so a constructor or close() that hangs cannot hang the run before it starts
    attempt = threading.Thread(target=construct, name="tea construct", daemon=True)
    attempt.start()
    attempt.join(CONSTRUCT_LIMIT)
    made = f"{target.spec}(TransportConfig(pattern={pattern!r}))"
    if attempt.is_alive():
        raise pytest.UsageError(
            f"--transport={target.name}: {made} or its close() did not return within "
            f"{CONSTRUCT_LIMIT:.0f} s, so no scenario can run"
        )
    if failure:
        raise pytest.UsageError(
            f"--transport={target.name}: {made} raised, so no scenario can run: {_where(failure[0])}"
        )
