"""What an author reads: every scenario and group title fits any transport, and the rules a
scenario checks are written in its title (what ``--list-scenarios`` and every report show)."""

from __future__ import annotations

from typing import List

import pytest
from tea_conformance.catalogue import CATALOGUE, by_id
from tea_conformance.criteria import GROUPS

_REFERENCE_WORDS = ("zeromq", "zmq", "xpub", "socket option")


def test_no_title_names_the_reference_unless_it_is_reference_only() -> None:
    for scenario in CATALOGUE:
        if not scenario.reference_only:
            assert not any(w in scenario.title.lower() for w in _REFERENCE_WORDS), scenario
    for group, title in GROUPS.items():
        assert not any(w in title.lower() for w in _REFERENCE_WORDS), (group, title)


@pytest.mark.parametrize(
    ("scenario", "rules"),
    [
        # what the contract checks beyond "a warning is logged": the endpoint, the rate limit
        ("TEA-STREAM-002.2-UNIT-015", ["str(publisher.endpoint)", "at most 100", "none before"]),
        ("TEA-CONF-UNIT-007", ["receive_many()", "NOBLOCK", "receive_timeout=None"]),
        ("TEA-CONF-INT-006", ["send(NOBLOCK)", "at once"]),
        ("TEA-CONF-INT-015", ["max_high_water_mark", "refused"]),
    ],
)
def test_the_rules_a_scenario_checks_are_in_its_title(scenario: str, rules: List[str]) -> None:
    title = by_id(scenario).title
    for rule in rules:
        assert rule in title, (scenario, rule, title)


def test_list_scenarios_shows_the_rules(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--list-scenarios")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["AC1: the transport implements the Transport interface", "*str(publisher.endpoint)*"]
    )
