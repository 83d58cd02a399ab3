"""The TEA transport conformance suite: a pytest plugin (``pytest --transport=NAME``).

The contracts are also usable without pytest's collection: build a
:class:`~tea_conformance.harness.Target` and run :func:`~tea_conformance.cases.cases_for`.
"""

from __future__ import annotations

__version__ = "0.1.0"  # first: report_model.py reads it while this package initialises

from .catalogue import CATALOGUE, Scenario
from .harness import ConformanceFailure, Harness, Target
from .report_model import SUITE_VERSION

__all__ = ["CATALOGUE", "SUITE_VERSION", "ConformanceFailure", "Harness", "Scenario", "Target", "__version__"]
