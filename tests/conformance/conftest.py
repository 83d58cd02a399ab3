"""Fixtures of the plugin's self-tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def faulty_on_path(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # spawned child processes import the faulty transports too
    pytester.syspathinsert(HERE)
    pytester.syspathinsert()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(autouse=True)
def _release_what_runs_left() -> Iterator[None]:
    """After each self-test: stop the drivers its runs started and close what CloseLeaks
    leaked (both already counted by then), so a worker's descriptors stay few (CI workers
    grew past 1024 holding them until exit)."""
    yield
    from tea_conformance.remote.proxy import stop_drivers

    stop_drivers()
    faulty = sys.modules.get("faulty_transports")
    if faulty is not None:
        faulty.close_leaked()
