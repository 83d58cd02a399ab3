"""CURVE in real processes: an application's own authenticator is named in the error, and a
forked child of a CURVE publisher exits."""

from __future__ import annotations

from typing import Dict

import pytest
from scripts import run_child


def test_own_zap_authenticator_conflict_is_named(curve_keys: Dict[str, str]) -> None:
    result = run_child("foreign_zap", curve_keys["server_secret"], curve_keys["allowed"])
    assert result["outcome"].startswith("ConfigurationError"), result
    assert "zeromq.zap.01" in result["outcome"] and "authenticator" in result["outcome"]


@pytest.mark.requires("fork")
def test_forked_child_of_a_curve_publisher_exits(curve_keys: Dict[str, str]) -> None:
    result = run_child("forked_curve_child", curve_keys["server_secret"], curve_keys["allowed"])
    assert result == {"child_exited": True}, "the forked child hung at exit in the parent's authenticator"
