"""Benchmark options: ``--quick`` (CI: every benchmark runs briefly, delivery is checked)
and ``--transport`` (profile another registered transport in place of the reference)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--quick", action="store_true", help="small runs: check the benchmarks work, not speed")


@pytest.fixture(scope="session")
def quick(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("quick"))


@pytest.fixture(scope="session")
def transport_name(request: pytest.FixtureRequest) -> str:
    names = request.config.getoption("transport", default=None) or ["zeromq"]
    return str(names[0])
