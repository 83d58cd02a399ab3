"""Cases: one scenario, for one transport, over one protocol — and whether it applies."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import pytest

from .catalogue import ALL_PROTOCOLS, CATALOGUE, Scenario
from .contracts import CONTRACTS
from .harness import HUNG_AFTER, ConformanceFailure, Harness, Target
from .profiles import PROFILES

__all__ = ["Case", "cases_for", "is_reference"]

ANY_PROTOCOL = "any"

#: transport class -> the case during which a call into it never returned. A thread
#: blocked inside a transport cannot be killed, so once one is stuck the transport is
#: *wedged*: its remaining cases fail at once, naming the first hang, instead of each
#: waiting out its own deadline (which made a hung transport take n_cases x timeout).
_wedged: Dict[type, str] = {}

#: how often a running case reports that it is still running (at most; see _watch)
PROGRESS_EVERY = 15.0
#: how long closing a case's transports may take (at most; a shorter scenario timeout wins)
CLOSE_LIMIT = 15.0


def is_reference(target: Target) -> bool:
    """Whether the transport is built on the reference ZeroMQ base (so socket internals apply)."""
    try:
        from tea_transports.zeromq import ZeroMQTransport
    except ImportError:  # pyzmq missing: no transport can be ZeroMQ based
        return False
    return issubclass(target.cls, ZeroMQTransport)


@dataclass(frozen=True)
class Case:
    target: Target
    scenario: Scenario
    protocol: str

    @property
    def name(self) -> str:
        return f"{self.scenario.id}[{self.target.name}-{self.protocol}]"

    def not_applicable(self, platform: str = sys.platform) -> Optional[str]:
        """Why this case does not apply, or None if it must run."""
        scenario, capabilities = self.scenario, self.target.cls.capabilities
        if not scenario.platform_applies(platform):
            runs_on = ", ".join(scenario.platforms or ())
            return f"not applicable on this platform ({platform}); it runs on {runs_on}"
        if self.target.pattern_for(scenario.patterns) is None:  # checked first: pattern below is set
            return (
                f"needs pattern {' or '.join(sorted(scenario.patterns))}; the transport declares "
                f"{', '.join(sorted(capabilities.patterns))}"
            )
        # features of the pattern's core profile are required: their scenarios always run
        pattern = self.target.pattern_for(scenario.patterns)
        core = PROFILES[pattern].features if pattern in PROFILES else frozenset()
        missing = scenario.features - capabilities.features - core
        if missing:
            return f"needs feature(s) {', '.join(sorted(missing))}, which the transport does not declare"
        if self.protocol != ANY_PROTOCOL and self.protocol not in capabilities.protocols:
            return f"the transport does not declare protocol {self.protocol!r} on this platform"
        if scenario.cross_process and self.protocol == "inproc":
            return "needs two processes; inproc works within one process only"
        if scenario.reference_only and not is_reference(self.target):
            return f"reference-only (ZeroMQ socket internals); its behavioural twin is {scenario.twin}"
        return None

    def run(self, timeout: float, progress: Optional[Callable[[str], None]] = None) -> None:
        """Run the contract with a hard deadline: a hung transport fails, it never hangs the run.

        A call into the transport that outlives its own timeout by :data:`HUNG_AFTER`
        seconds ends the case at once (no need to wait for the scenario's deadline), and
        marks the transport wedged. ``progress`` is told, every :data:`PROGRESS_EVERY`
        seconds, that the case is still running.
        """
        pattern = self.target.pattern_for(self.scenario.patterns)
        assert pattern is not None, "run() is only called for applicable cases"
        first_hang = _wedged.get(self.target.cls)
        if first_hang:
            raise ConformanceFailure(
                f"not run: the transport is wedged since {first_hang} hung (a thread is still blocked "
                f"inside it, so its state cannot be trusted)"
            )
        protocol = None if self.protocol == ANY_PROTOCOL else self.protocol
        harness = Harness(self.target, pattern, protocol, timeout)
        errors: List[BaseException] = []

        def body() -> None:
            try:
                CONTRACTS[self.scenario.id](harness)
            except BaseException as exc:  # re-raised in the test's own thread
                errors.append(exc)

        worker = threading.Thread(target=body, name=self.name, daemon=True)
        started = time.monotonic()
        worker.start()
        hung = self._watch(worker, harness, started + timeout + 5, progress)  # harness waits end at `timeout`
        stuck_closing = self._close_all(harness, min(CLOSE_LIMIT, timeout))  # also wakes a blocked call
        if stuck_closing:
            _wedged[self.target.cls] = f"close() after {self.scenario.id} [{self.protocol}]"
            raise ConformanceFailure(f"{self.scenario.id}: {stuck_closing}")
        if hung:
            worker.join(min(5.0, timeout))
            if worker.is_alive():
                _wedged[self.target.cls] = f"{self.scenario.id} [{self.protocol}]"
            raise ConformanceFailure(f"{self.scenario.id} did not finish: {hung}")
        if errors:
            error = errors[0]
            if isinstance(error, pytest.skip.Exception):  # only the catalogue decides "not applicable"
                raise ConformanceFailure(
                    f"the transport raised a pytest skip ({error}) during the scenario; a transport "
                    f"cannot make a scenario not applicable, only its declared capabilities can"
                ) from error
            raise error

    def _close_all(self, harness: Harness, limit: float) -> str:
        """Close the case's transports in a thread of their own; return why that is
        considered hung (``close()`` must return: it is how every other wait ends), or ""."""
        closer = threading.Thread(target=harness.close_all, name=f"{self.name} close()", daemon=True)
        closer.start()
        closer.join(limit)
        if closer.is_alive():
            return f"close() did not return within {limit:.0f} s (close() must never hang)"
        return ""

    def _watch(
        self,
        worker: threading.Thread,
        harness: Harness,
        deadline: float,
        progress: Optional[Callable[[str], None]],
    ) -> str:
        """Wait for ``worker``; return why it is considered hung, or "" if it finished."""
        started = time.monotonic()
        every = min(PROGRESS_EVERY, (deadline - started) / 4)  # a short --scenario-timeout reports sooner
        next_report = started + every
        while True:
            worker.join(0.25)
            if not worker.is_alive():
                return ""
            now = time.monotonic()
            stuck = harness.stuck_call(now)
            if stuck:
                return (
                    f"{stuck}, {HUNG_AFTER:.0f} s past its own timeout (does the transport honour "
                    f"receive_timeout, send_timeout and close()?)"
                )
            if now >= deadline:
                return (
                    f"still running after {now - started:.0f} s: a transport call blocked past every "
                    f"deadline (does it honour receive_timeout, send_timeout and close()?)"
                )
            if progress is not None and now >= next_report:
                next_report = now + every
                progress(f"{self.name} still running after {now - started:.0f} s")


def protocols_of(scenario: Scenario, selected: Sequence[str]) -> List[str]:
    if scenario.protocols == ():
        return [ANY_PROTOCOL]
    candidates = scenario.protocols if scenario.protocols is not None else ALL_PROTOCOLS
    return [p for p in candidates if p in selected]


def cases_for(targets: Sequence[Target], selected_protocols: Sequence[str] = ALL_PROTOCOLS) -> List[Case]:
    """Every case of the catalogue for ``targets``, in catalogue order."""
    return [
        Case(target, scenario, protocol)
        for target in targets
        for scenario in CATALOGUE
        for protocol in protocols_of(scenario, selected_protocols)
    ]
