"""The contracts, one module per family; each function checks one scenario of the catalogue.

A contract is a plain function of a :class:`~tea_conformance.harness.Harness` (the shape
of trio's ``check_one_way_stream``): it raises ``ConformanceFailure`` (an AssertionError)
when the transport breaks the contract, and returns when it keeps it.
"""

from __future__ import annotations

from typing import Callable, Dict

from ..catalogue import STORY
from ..harness import Harness

__all__ = ["CONTRACTS", "Contract", "contract"]

Contract = Callable[[Harness], None]
CONTRACTS: Dict[str, Contract] = {}


def contract(short_id: str) -> Callable[[Contract], Contract]:
    """Register the decorated function as the check of scenario ``short_id``."""
    full_id = f"TEA-{short_id}" if short_id.startswith("CONF-") else f"{STORY}-{short_id}"

    def register(function: Contract) -> Contract:
        if full_id in CONTRACTS:
            raise ValueError(f"two contracts for {full_id}")
        CONTRACTS[full_id] = function
        return function

    return register


from . import delivery, filtering, flow, interface, joining, linger, platforms, reference  # noqa: E402,F401
from . import model_scenarios as model_scenarios  # noqa: E402  (registers the model scenarios)
