"""Fixtures of the plugin's self-tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def faulty_on_path(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # spawned child processes import the faulty transports too
    pytester.syspathinsert(HERE)
    pytester.syspathinsert()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
