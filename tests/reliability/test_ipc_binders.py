"""ipc binders across processes: one wins a contested path, and a relative path stays put after chdir()."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import run_child

_IPC = pytest.mark.requires("ipc")


@_IPC
def test_concurrent_ipc_binders(ipc_dir: str) -> None:
    trials = 60
    result = run_child("ipc_binders", ipc_dir, str(trials), timeout=120)
    print(f"FIGURE two processes binding one ipc path at once, {trials} trials: {result}")
    assert result["both"] == 0, f"both binders succeeded in {result['both']} of {trials} trials"
    assert result["left"] is False


@_IPC
def test_relative_ipc_path_then_chdir(tmp_path: Path) -> None:
    result = run_child("relative_ipc", str(tmp_path))
    assert result == {"unrelated_kept": True, "socket_removed": True}
