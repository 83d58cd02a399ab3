"""The contracts, one module per family; each function checks one scenario of the catalogue.

A contract is a plain function of a :class:`~tea_conformance.harness.Harness` (the shape
of trio's ``check_one_way_stream``): it raises ``ConformanceFailure`` (an AssertionError)
when the transport breaks the contract, and returns when it keeps it.

Its ``@contract`` decorator declares the scenario it checks — ID, group, priority, title
and needs — so a scenario and its check are written in one place and registered together:
there is no scenario without a check, no check without its scenario. The catalogue
(:mod:`..catalogue`) puts what is registered here in its declared order.
"""

from __future__ import annotations

from typing import Dict

from .registry import REGISTRY, Contract, Registered, contract

__all__ = ["CONTRACTS", "REGISTRY", "Contract", "Registered", "contract"]

# each family module registers its scenarios as it is imported
from . import delivery, filtering, flow, interface, joining, linger, platforms, reference  # noqa: F401
from . import model_scenarios as model_scenarios

#: every registered check by full scenario ID
CONTRACTS: Dict[str, Contract] = {sid: registered.check for sid, registered in REGISTRY.items()}
