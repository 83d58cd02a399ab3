"""ipc binders across processes: one wins a contested path, and a relative path stays put after chdir()."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import run_script

_IPC = pytest.mark.requires("ipc")


BINDERS = """
import json, os
from tea_transports import AddressInUseError, TransportConfig, create_transport
path = os.path.join(DIR, "race.sock")
both = winners = 0
for trial in range(TRIALS):
    go_r, go_w = os.pipe()
    end_r, end_w = os.pipe()
    out_r, out_w = os.pipe()
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            os.read(go_r, 1)
            t = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
            try:
                t.bind("ipc://" + path)
                os.write(out_w, b"1")
            except AddressInUseError:
                os.write(out_w, b"0")
            os.read(end_r, 1)  # stay bound until told
            t.close()
            os._exit(0)
        children.append(pid)
    os.write(go_w, b"gg")
    results = os.read(out_r, 1) + os.read(out_r, 1)
    both += results == b"11"
    winners += results.count(b"1")
    os.write(end_w, b"gg")
    for pid in children:
        os.waitpid(pid, 0)
    for fd in (go_r, go_w, end_r, end_w, out_r, out_w):
        os.close(fd)
print(json.dumps({"both": both, "winners": winners, "left": os.path.exists(path)}))
"""


RELATIVE = """
import json, os
from tea_transports import TransportConfig, create_transport
a, b = os.path.join(DIR, "a"), os.path.join(DIR, "b")
os.mkdir(a); os.mkdir(b)
open(os.path.join(b, "data.sock"), "w").write("unrelated")
os.chdir(a)
pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
pub.bind("ipc://data.sock")
os.chdir(b)
pub.close()
print(json.dumps({"unrelated_kept": os.path.exists(os.path.join(b, "data.sock")),
                  "socket_removed": not os.path.exists(os.path.join(a, "data.sock"))}))
"""


@_IPC
def test_concurrent_ipc_binders(ipc_dir: str) -> None:
    trials = 60
    result = run_script(BINDERS.replace("DIR", repr(ipc_dir)).replace("TRIALS", str(trials)), timeout=120)
    print(f"FIGURE two processes binding one ipc path at once, {trials} trials: {result}")
    assert result["both"] == 0, f"both binders succeeded in {result['both']} of {trials} trials"
    assert result["left"] is False


@_IPC
def test_relative_ipc_path_then_chdir(tmp_path: Path) -> None:
    result = run_script(RELATIVE.replace("DIR", repr(str(tmp_path))))
    assert result == {"unrelated_kept": True, "socket_removed": True}
