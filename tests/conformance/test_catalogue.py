"""One source for a scenario: its contract's ``@contract`` decorator declares its metadata,
and the catalogue is built from those declarations in its documented order — so there is
no scenario without a check, no check without its metadata, and a wrong ID is an error,
never a silent split."""

from __future__ import annotations

import dataclasses
import inspect
import random
import subprocess
import sys
from typing import Any, Dict, List

import pytest
from tea_conformance import catalogue
from tea_conformance.catalogue import CATALOGUE, ORDER, build, by_id
from tea_conformance.contracts import CONTRACTS, REGISTRY, registry
from tea_conformance.contracts.registry import contract
from tea_conformance.harness import Harness
from tea_conformance.scenario import LEVELS, Scenario, full_id


def _check(h: Harness) -> None:
    """A contract that is never run: these tests only register it."""


_METADATA: Dict[str, Any] = {"ac": "lifecycle", "priority": "P1", "title": "a scenario of these tests"}


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> Dict[str, registry.Registered]:
    """Register into a registry of the test's own, not yet sealed, leaving the suite's untouched."""
    fresh: Dict[str, registry.Registered] = {}
    monkeypatch.setattr(registry, "REGISTRY", fresh)
    monkeypatch.setattr(registry, "_SEALED", [False])
    return fresh


def test_the_catalogue_is_the_registered_scenarios_in_the_documented_order() -> None:
    assert [s.id for s in CATALOGUE] == [full_id(short_id) for short_id in ORDER]
    assert set(CONTRACTS) == set(REGISTRY) == {s.id for s in CATALOGUE}
    for scenario in CATALOGUE:
        assert REGISTRY[scenario.id].scenario is scenario
        assert CONTRACTS[scenario.id] is REGISTRY[scenario.id].check
        assert by_id(scenario.id) is scenario


def test_the_order_does_not_depend_on_the_order_of_registration() -> None:
    declared = [registered.scenario for registered in REGISTRY.values()]
    for seed in range(5):
        random.Random(seed).shuffle(declared)
        assert build(declared) == CATALOGUE


def test_a_scenario_declared_but_not_in_the_documented_order_is_an_error() -> None:
    stray = dataclasses.replace(CATALOGUE[0], id="TEA-CONF-UNIT-999")
    with pytest.raises(
        ValueError, match=r"TEA-CONF-UNIT-999 declared by @contract but missing from catalogue\.ORDER"
    ):
        build([*CATALOGUE, stray])


def test_a_documented_scenario_without_a_contract_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"lists TEA-STREAM-002\.2-UNIT-001, which no contract declares"):
        build(CATALOGUE[1:])
    with pytest.raises(ValueError, match="which no contract declares"):  # a typo in ORDER
        build(CATALOGUE, [*ORDER[:-1], "CONF-MODEL-020"])


def test_a_typo_in_an_id_names_both_ids() -> None:
    typo = dataclasses.replace(by_id("TEA-STREAM-002.2-INT-006"), id="TEA-STREAM-002.2-INT-066")
    with pytest.raises(ValueError) as error:
        build([typo if s.id == "TEA-STREAM-002.2-INT-006" else s for s in CATALOGUE])
    assert str(error.value) == (
        "catalogue.ORDER lists TEA-STREAM-002.2-INT-006, which no contract declares: decorate its "
        "check in contracts/ with @contract, or take it out of ORDER; TEA-STREAM-002.2-INT-066 "
        "declared by @contract but missing from catalogue.ORDER: add it there, where it belongs in reports"
    )


def test_the_documented_order_lists_each_scenario_once() -> None:
    with pytest.raises(ValueError, match="lists TEA-CONF-MODEL-002 more than once"):
        build(CATALOGUE, [*ORDER, "CONF-MODEL-002"])


def test_a_scenario_declared_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="TEA-CONF-MODEL-001 is declared twice"):
        build([*CATALOGUE, by_id("TEA-CONF-MODEL-001")])


def test_a_twin_names_a_scenario() -> None:
    orphan = dataclasses.replace(by_id("TEA-STREAM-002.2-UNIT-005"), twin="TEA-CONF-UNIT-099")
    with pytest.raises(ValueError, match="names twin TEA-CONF-UNIT-099, which is no scenario"):
        build([orphan if s.id == orphan.id else s for s in CATALOGUE])


def test_two_contracts_cannot_claim_one_id() -> None:
    before = dict(REGISTRY)
    with pytest.raises(ValueError) as error:
        contract("UNIT-001", **_METADATA)(_check)
    assert "interface.is_a_transport already checks TEA-STREAM-002.2-UNIT-001" in str(error.value)
    assert "test_catalogue._check" in str(error.value)  # the newcomer is named too
    assert before == REGISTRY  # the first one keeps its scenario


def test_a_contract_without_its_metadata_cannot_be_declared(
    empty_registry: Dict[str, registry.Registered],
) -> None:
    with pytest.raises(
        TypeError, match="missing 3 required keyword-only arguments: 'ac', 'priority', and 'title'"
    ):
        contract("CONF-UNIT-099")(_check)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'title'"):
        contract("CONF-UNIT-099", ac="lifecycle", priority="P1")(_check)  # type: ignore[call-arg]
    assert empty_registry == {}


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"ac": "AC11"}, "ac='AC11' is no group of criteria.GROUPS"),
        ({"priority": "P4"}, "priority='P4' is not one of P0, P1, P2, P3"),
        ({"grade": "MAY"}, "grade='MAY' is not one of SHALL, SHOULD"),
        ({"title": " "}, "the title is empty"),
        ({"features": {"filterng"}}, "features ['filterng'] are no tea_transports.Feature"),
        ({"patterns": {"pubsub"}}, "patterns=['pubsub'] must be some of"),
        ({"patterns": set()}, "patterns=[] must be some of"),
        ({"protocols": ("udp",)}, "protocols=('udp',) must be some of inproc, ipc, tcp"),
        ({"protocols": "tcp"}, "protocols='tcp' must be a tuple of names"),
        ({"platforms": [1]}, "platforms=[1] must be a tuple of names"),
        ({"title": None}, "the title is empty"),
        ({"cross_process": True, "protocols": ("inproc",)}, "cross_process=True needs a protocol"),
        ({"reference_only": True}, "a reference-only scenario names its twin"),
        ({"twin": "TEA-CONF-UNIT-001"}, "a reference-only scenario names its twin"),
    ],
)
def test_metadata_that_cannot_be_right_is_refused_naming_the_contract(
    empty_registry: Dict[str, registry.Registered], metadata: Dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError) as error:
        contract("CONF-UNIT-099", **{**_METADATA, **metadata})(_check)
    assert str(error.value).startswith("@contract('CONF-UNIT-099') on test_catalogue._check: " + problem)
    assert empty_registry == {}


@pytest.mark.parametrize(
    "short_id", ["UNIT-01", "CONF-UNT-001", "TEA-CONF-UNIT-001", "conf-unit-001", "UNIT-001 "]
)
def test_a_malformed_id_is_refused(empty_registry: Dict[str, registry.Registered], short_id: str) -> None:
    with pytest.raises(
        ValueError, match=r"on test_catalogue._check: scenario ID .* is malformed: write UNIT-NNN"
    ):
        contract(short_id, **_METADATA)(_check)
    assert empty_registry == {}


def test_a_list_of_protocols_is_taken_as_a_tuple(empty_registry: Dict[str, registry.Registered]) -> None:
    contract("CONF-INT-099", **_METADATA, protocols=["tcp", "ipc"])(_check)
    (registered,) = empty_registry.values()
    assert registered.scenario.protocols == ("tcp", "ipc")
    assert hash(registered.scenario)  # a list would have made it unhashable


def test_only_a_function_can_be_a_contract(empty_registry: Dict[str, registry.Registered]) -> None:
    with pytest.raises(TypeError, match="decorates a function of a Harness, not 42"):
        contract("CONF-INT-099", **_METADATA)(42)  # type: ignore[arg-type]
    assert empty_registry == {}


def test_a_contract_declared_after_the_catalogue_was_built_is_refused(
    empty_registry: Dict[str, registry.Registered],
) -> None:
    registry.seal()
    with pytest.raises(ValueError, match="the catalogue is already built, so this scenario would never run"):
        contract("CONF-INT-099", **_METADATA)(_check)
    assert empty_registry == {}


def test_a_declared_scenario_gets_its_id_and_level_from_its_short_id(
    empty_registry: Dict[str, registry.Registered],
) -> None:
    contract("CONF-E2E-099", **_METADATA, features={"linger"}, protocols=("tcp",))(_check)
    (registered,) = empty_registry.values()
    assert registered.check is _check
    assert registered.scenario == Scenario(
        "TEA-CONF-E2E-099", "lifecycle", "e2e", "P1", "a scenario of these tests",
        features=frozenset({"linger"}), protocols=("tcp",),
    )  # fmt: skip
    for scenario in CATALOGUE:
        assert scenario.level == LEVELS[scenario.short_id.split("-")[-2]], scenario.id


def test_the_decorator_defaults_are_the_scenarios() -> None:
    """The needs a contract does not state are a Scenario's own defaults."""
    declared = {
        n: p.default for n, p in inspect.signature(contract).parameters.items() if p.default is not p.empty
    }
    fields = {f.name: f.default for f in dataclasses.fields(Scenario) if f.name in declared}
    assert declared.keys() == fields.keys()
    assert declared == fields


def test_importing_the_package_does_not_build_the_catalogue() -> None:
    """A spawned child process imports the package; building the catalogue imports every
    contract and Hypothesis, which it has no use for."""
    probe = (
        "import sys, tea_conformance.processes, tea_conformance.report_model, tea_conformance.catalogue\n"
        "print(sorted(m for m in sys.modules if m.startswith(('hypothesis', 'tea_conformance.contracts'))))\n"
        "import tea_conformance\n"
        "print(len(tea_conformance.CATALOGUE), "
        "tea_conformance.CATALOGUE is tea_conformance.catalogue.CATALOGUE)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    lines: List[str] = done.stdout.splitlines()
    assert lines == ["[]", f"{len(ORDER)} True"]


def test_an_unknown_attribute_of_the_catalogue_module_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'CATALOG'"):
        catalogue.CATALOG  # noqa: B018
