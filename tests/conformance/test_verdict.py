"""The verdict a user can trust: core profiles, what it names, exit codes, and the run's
integrity (skips, crashes, hangs, registered classes, resolution errors), via pytester."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Set

import pytest
from tea_conformance.catalogue import CATALOGUE
from tea_conformance.verdict import EXIT_CODES, judge
from verdict_transports import TcpOnly

pytestmark = pytest.mark.usefixtures("faulty_on_path")


def certify(pytester: pytest.Pytester, tmp_path: Path, *args: str) -> tuple[pytest.RunResult, Dict[str, Any]]:
    report = tmp_path / "report.json"
    # xdist's workers take the sys.path this interpreter started with: under -n, a subprocess
    run = pytester.runpytest_subprocess if "-n" in args else pytester.runpytest
    result = run("-p", "no:cacheprovider", f"--conformance-report={report}", *args)
    (document,) = json.loads(report.read_text())["transports"]
    return result, document


def failed(document: Dict[str, Any]) -> Set[str]:
    return {r["scenario_id"] for r in document["results"] if r["outcome"] == "failed"}


def assert_certified(result: pytest.RunResult, document: Dict[str, Any], scope: str) -> None:
    assert not failed(document), document["verdict"]
    assert document["verdict"] == f"CERTIFIED — {scope}"
    assert (document["status"], result.ret) == ("CERTIFIED", 0)


# -- 1. core profiles; the verdict names what it covers ------------------------------------


def test_declaring_nothing_is_not_certified(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, document = certify(pytester, tmp_path, "--transport=verdict_transports:DeclaresNothing")
    verdict = document["verdict"]
    assert verdict.startswith(
        "NOT CERTIFIED — pub_sub core needs feature 'filtering', feature 'high_water_mark'"
    )
    assert "feature 'linger'" in verdict and "a protocol among inproc, ipc, tcp" in verdict
    assert document["certified"]["missing"] and result.ret == 1


def test_ignoring_an_undeclared_core_option_fails_its_scenario(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result, document = certify(
        pytester, tmp_path, "--transport=verdict_transports:SilentlyUnfiltered", "-k", "UNIT-010"
    )
    assert "TEA-STREAM-002.2-UNIT-010" in failed(document)  # run although filtering is undeclared
    assert document["verdict"].startswith("NOT CERTIFIED — pub_sub core needs feature 'filtering'")
    assert result.ret == 1


def test_a_few_features_in_process_is_not_the_reference(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, document = certify(pytester, tmp_path, "--transport=verdict_transports:FewFeaturesInproc")
    assert document["status"] == "NOT CERTIFIED", document["verdict"]
    assert "feature 'high_water_mark'" in document["verdict"] and "feature 'linger'" in document["verdict"]
    assert result.ret == 1


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["TcpOnly", "RefusesUndeclaredProtocol"])
def test_tcp_only_is_certified_for_tcp_only(
    pytester: pytest.Pytester, tmp_path: Path, transport: str
) -> None:
    # RefusesUndeclaredProtocol: protocol-independent scenarios must use a declared protocol
    result, document = certify(pytester, tmp_path, f"--transport=verdict_transports:{transport}", "-n", "2")
    extras = ", ".join(sorted(TcpOnly.capabilities.features - {"filtering", "high_water_mark", "linger"}))
    assert_certified(result, document, f"pub_sub core + {extras}; tcp")
    assert document["certified"]["protocols"] == ["tcp"]


@pytest.mark.slow
def test_the_reference_is_certified_on_all_three_protocols(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, document = certify(pytester, tmp_path, "--transport=zeromq", "-n", "2")
    assert_certified(
        result,
        document,
        "pub_sub core + lossless, max_message_size, reconnect, slow_subscriber_warning, stats, "
        "subscriber_count; inproc, ipc, tcp",
    )


# -- exit codes ---------------------------------------------------------------------------


def test_exit_codes_follow_the_verdict(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, document = certify(pytester, tmp_path, "--transport=unix", "-k", "INT-002")
    assert (document["status"], result.ret) == ("INCOMPLETE", 11)
    result, document = certify(pytester, tmp_path, "--transport=unix", "--protocol=inproc")
    assert (document["status"], result.ret) == ("INCOMPLETE", 11)
    result, document = certify(pytester, tmp_path, "--transport=unix", "-k", "nomatch")
    assert (document["status"], result.ret) == ("NO CERTIFICATION", 12)


def test_collect_only_writes_no_report(pytester: pytest.Pytester, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = pytester.runpytest("--transport=unix", "--collect-only", f"--conformance-report={report}")
    assert result.ret == 0 and not report.exists()
    result.stdout.no_fnmatch_line("*verdict:*")


def test_every_verdict_has_its_own_exit_code() -> None:
    should = next(s.id for s in CATALOGUE if s.grade == "SHOULD")
    shall = next(s.id for s in CATALOGUE if s.grade == "SHALL")
    ids = {s.id for s in CATALOGUE}
    everything = [(sid, "passed") for sid in sorted(ids)]

    def status(outcomes: Any, expected: int = len(ids)) -> str:
        return judge(TcpOnly, outcomes, expected, ids, ("inproc", "ipc", "tcp"), True).status

    assert status(everything) == "CERTIFIED"
    assert (
        status([(sid, "failed" if sid == should else o) for sid, o in everything])
        == "CERTIFIED WITH DEVIATIONS"
    )
    assert status([(sid, "failed" if sid == shall else o) for sid, o in everything]) == "NOT CERTIFIED"
    assert status(everything[1:]) == "INCOMPLETE"
    assert status([]) == "NO CERTIFICATION"
    assert sorted(EXIT_CODES.values()) == [0, 1, 10, 11, 12]  # distinct, and only CERTIFIED is 0


# -- 3. integrity -------------------------------------------------------------------------


def test_a_skip_from_inside_the_transport_is_a_failure(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, document = certify(
        pytester, tmp_path, "--transport=verdict_transports:SkipsInSend", "-k", "INT-002", "--protocol=inproc"
    )
    assert "TEA-STREAM-002.2-INT-002" in failed(document)
    assert document["counts"]["not applicable"] == 0 and result.ret == 1


def test_under_xdist_only_the_controller_reports(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, document = certify(pytester, tmp_path, "--transport=unix", "-n", "2")
    assert (document["status"], result.ret) == ("CERTIFIED", 0)
    assert document["counts"]["not run"] == 0
    assert len(document["results"]) == sum(document["counts"].values())


def test_a_crashed_worker_is_a_failed_case(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, document = certify(
        pytester,
        tmp_path,
        "--transport=verdict_transports:AbortsOnBigPayload",
        "-n",
        "2",
        "-k",
        "CONF-INT-002 or INT-001",
        "--protocol=inproc",
    )
    assert "TEA-CONF-INT-002" in failed(document), document["results"]
    assert document["status"] == "NOT CERTIFIED" and result.ret == 1


def test_a_class_registered_at_run_time_works_in_child_processes(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makeconftest(
        """
from tea_transports import register_transport
from tea_transports.zeromq import ZeroMQPubSubTransport

class Registered(ZeroMQPubSubTransport):
    pass

register_transport("registered-at-run-time", Registered)
"""
    )
    _, document = certify(
        pytester, tmp_path, "--transport=registered-at-run-time", "-k", "E2E-001 or E2E-003", "--protocol=tcp"
    )
    assert failed(document) == set(), document["results"]
    assert document["counts"]["passed"] == 3  # E2E-001, CONF-E2E-001, E2E-003 on tcp


def test_a_child_reports_its_traceback(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        only_here="""
import multiprocessing
from tea_transports.zeromq import ZeroMQPubSubTransport

class OnlyInParent(ZeroMQPubSubTransport):
    def connect(self, address):
        if multiprocessing.parent_process() is not None:
            raise KeyError("connect() refused in a child process")
        super().connect(address)
"""
    )
    result, document = certify(
        pytester, tmp_path, "--transport=only_here:OnlyInParent", "-k", "E2E-001", "--protocol=ipc"
    )
    assert "TEA-STREAM-002.2-E2E-001" in failed(document)
    result.stdout.fnmatch_lines(["*KeyError*connect() refused in a child process*"])


def test_a_wedged_transport_fails_fast_naming_the_first_hang(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result, document = certify(
        pytester, tmp_path, "--transport=verdict_transports:HangsInReceive", "--protocol=inproc"
    )
    reasons = [r["reason"] for r in document["results"] if r["outcome"] == "failed"]
    assert any("receive() with receive_timeout=50 ms blocked" in r for r in reasons), reasons
    assert any("wedged since TEA-STREAM-002.2-INT-001 [inproc] hung" in r for r in reasons), reasons
    assert document["status"] == "NOT CERTIFIED" and result.ret == 1


def test_a_close_that_hangs_fails_its_case_and_wedges_the_transport(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result, document = certify(
        pytester,
        tmp_path,
        "--transport=verdict_transports:HangsInClose",
        "--protocol=inproc",
        "--scenario-timeout=3",
        "-k",
        "INT-001 or INT-002",
    )
    reasons = [r["reason"] for r in document["results"] if r["outcome"] == "failed"]
    assert any("close() did not return within 3 s" in r for r in reasons), reasons
    assert any("wedged since close() after" in r for r in reasons), reasons
    assert result.ret == 1


def test_a_raising_constructor_is_reported_once(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--transport=verdict_transports:RaisesInConstructor")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert text.count("RuntimeError: RaisesInConstructor cannot be built") == 1, text


def test_without_pyzmq_the_install_hint_is_shown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(blockzmq="import sys\nsys.modules['zmq'] = None\n")
    result = pytester.runpytest_subprocess("-p", "blockzmq", "--transport=zeromq")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--transport=zeromq*needs 'zmq'*pip install 'tea-transports*"])
    assert "does not offer pattern 'direct'" not in result.stderr.str()


def test_a_warning_on_a_non_propagating_logger_is_heard(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _, document = certify(
        pytester,
        tmp_path,
        "--transport=verdict_transports:QuietLogger",
        "-k",
        "UNIT-015",
        "--protocol=inproc",
    )
    assert failed(document) == set() and document["counts"]["passed"] == 1


def test_a_transport_supplies_its_own_addresses(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        own="""
import uuid
from tea_transports import AddressError
from tea_transports.zeromq import ZeroMQPubSubTransport

class OwnAddresses(ZeroMQPubSubTransport):
    @classmethod
    def conformance_address(cls, protocol):
        return f"inproc://own-{uuid.uuid4().hex}"

    def bind(self, address):
        if not address.startswith("inproc://own-"):
            raise AddressError(f"OwnAddresses binds inproc://own-* only, not {address!r}")
        super().bind(address)
"""
    )
    _, document = certify(
        pytester, tmp_path, "--transport=own:OwnAddresses", "-k", "INT-002", "--protocol=inproc"
    )
    assert failed(document) == set() and document["counts"]["passed"] >= 1


def test_a_serial_run_killed_by_its_transport_still_gives_a_verdict(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--transport=verdict_transports:AbortsOnBigPayload",
        "-k", "CONF-INT-002 or INT-001", "--protocol=inproc", f"--conformance-report={report}",
    )  # fmt: skip
    (document,) = json.loads(report.read_text())["transports"]
    crashed = [r for r in document["results"] if r["scenario_id"] == "TEA-CONF-INT-002"]
    assert crashed and crashed[0]["outcome"] == "failed", document["results"]
    assert "killed by SIGABRT while running TEA-CONF-INT-002" in crashed[0]["reason"]
    assert document["status"] == "NOT CERTIFIED" and result.ret == 1
    result.stdout.fnmatch_lines(["*verdict: NOT CERTIFIED*TEA-CONF-INT-002*"])


def test_a_long_scenario_says_it_is_still_running(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        slow="""
import threading
from tea_transports.zeromq import ZeroMQPubSubTransport

class SlowBind(ZeroMQPubSubTransport):
    def bind(self, address):
        threading.Event().wait(8)  # slow, not stuck: it ends within the deadline
        super().bind(address)
"""
    )
    result = pytester.runpytest(
        "--transport=slow:SlowBind",
        "-k",
        "TEA-STREAM-002.2-INT-001",
        "--protocol=inproc",
        # a note every (15 + 5) / 4 = 5 s, during the 8 s bind; 7 s left for the scenario itself
        "--scenario-timeout=15",
    )
    result.stdout.fnmatch_lines(
        ["*tea-conformance: TEA-STREAM-002.2-INT-001[[]slow:SlowBind-inproc] still running*"]
    )
    result.assert_outcomes(passed=1)


def test_a_declared_queue_limit_is_respected(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # TEA-CONF-INT-015 asked for high_water_mark=80000, which such a transport refuses
    _, document = certify(
        pytester, tmp_path, "--transport=verdict_transports:QueuesAtMost8192", "-k", "CONF-INT-015"
    )
    assert failed(document) == set(), document["results"]
    assert document["counts"]["passed"] == 3, document["counts"]  # inproc, ipc, tcp
