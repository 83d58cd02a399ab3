"""The TEA transport conformance suite: a pytest plugin (``pytest --transport=NAME``).

The contracts are also usable without pytest's collection: build a
:class:`~tea_conformance.harness.Target` and run :func:`~tea_conformance.cases.cases_for`.
"""

from __future__ import annotations

__version__ = "0.1.0"  # first: report_model.py reads it while this package initialises

from typing import TYPE_CHECKING, Tuple

from .harness import ConformanceFailure, Harness, Target
from .report_model import SUITE_VERSION
from .scenario import Scenario

if TYPE_CHECKING:
    from .catalogue import CATALOGUE

__all__ = ["CATALOGUE", "SUITE_VERSION", "ConformanceFailure", "Harness", "Scenario", "Target", "__version__"]


def __getattr__(name: str) -> Tuple[Scenario, ...]:
    # on first use, not at import: a spawned child process imports this package, and
    # building the catalogue imports every contract (and Hypothesis)
    if name == "CATALOGUE":
        from .catalogue import CATALOGUE

        return CATALOGUE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
