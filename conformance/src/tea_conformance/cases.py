"""Cases: one scenario, for one transport, over one protocol — and whether it applies."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import List, Optional, Sequence

from .catalogue import ALL_PROTOCOLS, CATALOGUE, Scenario
from .contracts import CONTRACTS
from .harness import ConformanceFailure, Harness, Target

__all__ = ["Case", "cases_for", "is_reference"]

ANY_PROTOCOL = "any"


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
        if self.target.pattern_for(scenario.patterns) is None:
            return (
                f"needs pattern {' or '.join(sorted(scenario.patterns))}; the transport declares "
                f"{', '.join(sorted(capabilities.patterns))}"
            )
        missing = scenario.features - capabilities.features
        if missing:
            return f"needs feature(s) {', '.join(sorted(missing))}, which the transport does not declare"
        if self.protocol != ANY_PROTOCOL and self.protocol not in capabilities.protocols:
            return f"the transport does not declare protocol {self.protocol!r} on this platform"
        if scenario.cross_process and self.protocol == "inproc":
            return "needs two processes; inproc works within one process only"
        if scenario.reference_only and not is_reference(self.target):
            return f"reference-only (ZeroMQ socket internals); its behavioural twin is {scenario.twin}"
        return None

    def run(self, timeout: float) -> None:
        """Run the contract with a hard deadline: a hung transport fails, it never hangs the run."""
        pattern = self.target.pattern_for(self.scenario.patterns)
        assert pattern is not None, "run() is only called for applicable cases"
        protocol = None if self.protocol == ANY_PROTOCOL else self.protocol
        harness = Harness(self.target, pattern, protocol, timeout)
        errors: List[BaseException] = []

        def body() -> None:
            try:
                CONTRACTS[self.scenario.id](harness)
            except BaseException as exc:  # re-raised in the test's own thread
                errors.append(exc)

        worker = threading.Thread(target=body, name=self.name, daemon=True)
        worker.start()
        worker.join(timeout + 5)  # the harness's own waits give up at `timeout`
        hung = worker.is_alive()
        harness.close_all()  # also wakes a call blocked inside the transport
        if hung:
            worker.join(5)
            raise ConformanceFailure(
                f"{self.scenario.id} did not finish within {timeout:.0f} s: a transport call blocked past "
                f"every deadline (does it honour receive_timeout, send_timeout and close()?)"
            )
        if errors:
            raise errors[0]


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
