"""Fixtures for the fault tests: actor processes that are always reaped."""

from __future__ import annotations

from typing import Iterator, List

import pytest
from actor_process import Actor


@pytest.fixture
def actors() -> Iterator[List[Actor]]:
    """Start actors with `actors.append(Actor(...))`; all are killed and reaped after the test."""
    started: List[Actor] = []
    yield started
    for actor in started:
        actor.stop()
