"""Out of file descriptors: a TransportError, and nothing leaked."""

from __future__ import annotations

import pytest
from scripts import run_child


@pytest.mark.requires("proc")
def test_out_of_descriptors_is_a_transport_error_and_leaks_nothing() -> None:
    result = run_child("out_of_fds")
    assert result["errors"] and not result["raw"], result
    assert "file descriptors" in result["errors"][0]
    assert result["leaked_sockets"] <= 0 and result["fd_growth"] <= 0, f"failed binds leaked: {result}"
