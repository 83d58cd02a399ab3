"""The pytest plugin: ``pytest --transport=NAME`` certifies a transport.

Inert unless ``--transport`` is given: it then adds one test item per case (scenario,
transport, protocol) to whatever else pytest collected, and ends the run with a
certification summary. Heavy imports wait for ``pytest_configure``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import pytest

__all__ = ["MARKERS"]

MARKERS = {
    **{f"ac{n}": f"scenarios of acceptance criterion AC{n}" for n in range(1, 11)},
    "risk": "scenarios of the story's risk areas",
    "roles": "TEA-CONF role contracts",
    "lifecycle": "TEA-CONF lifecycle contracts",
    "delivery": "TEA-CONF delivery contracts",
    "joining": "TEA-CONF joining contracts (a subscription takes effect exactly, under stress)",
    **{f"p{n}": f"priority P{n} scenarios" for n in range(4)},
    "unit": "unit-level scenarios",
    "integration": "integration-level scenarios",
    "e2e": "end-to-end scenarios (several processes)",
    "shall": "behaviour PUB/SUB SHALL have (RFC 29)",
    "should": "behaviour PUB/SUB SHOULD have (RFC 29)",
    "reference_only": "scenarios that inspect ZeroMQ socket internals",
    "model": "TEA-CONF model-based scenarios (any sequence of operations against a model)",
}


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise pytest.UsageError(f"--scenario-timeout takes seconds, got {value!r}") from None
    if seconds <= 0:
        raise pytest.UsageError(f"--scenario-timeout must be positive, got {value!r}")
    return seconds


def _count(option: str, least: int) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise pytest.UsageError(f"{option} takes a whole number, got {value!r}") from None
        if number < least:
            raise pytest.UsageError(f"{option} must be at least {least}, got {value!r}")
        return number

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tea-conformance", "TEA transport conformance (story TEA-STREAM-002.2)")
    group.addoption(
        "--transport",
        action="append",
        default=[],
        metavar="NAME",
        help="certify this transport: a registered name (e.g. zeromq, unix) or module:Class; repeatable",
    )
    group.addoption(
        "--protocol",
        action="append",
        default=[],
        choices=("inproc", "ipc", "tcp"),
        help="only these protocols (repeatable); a narrowed run is not a certification",
    )
    group.addoption(
        "--conformance-report",
        metavar="PATH",
        default=None,
        help="write the certification reports named after PATH's stem, whatever its suffix: "
        "STEM.json, STEM.md, STEM.html and a badge STEM.TRANSPORT.svg per transport",
    )
    group.addoption(
        "--list-scenarios",
        nargs="?",
        const="text",
        default=None,
        choices=("text", "json"),
        help="list the catalogue (as text, or =json) and exit; with --transport, whether each "
        "scenario applies to it and why not",
    )
    group.addoption(
        "--scenario-timeout",
        type=_timeout,
        default=60.0,
        metavar="SECONDS",
        help="deadline of one scenario; a transport call blocked past it fails the scenario (default 60)",
    )
    group.addoption(
        "--model-examples",
        type=_count("--model-examples", 1),
        default=None,
        metavar="N",
        help="sequences of operations each model scenario tries (default 25; thousands before a release)",
    )
    group.addoption(
        "--model-seed",
        type=_count("--model-seed", 0),
        default=None,
        metavar="SEED",
        help="seed of the model scenarios (default: a new one per run, printed in the header)",
    )
    parser.addini(
        "conformance_contracts",
        type="bool",
        default=True,
        help="add the conformance contracts when --transport is given (benchmarks turn this off)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> Optional[int]:
    fmt = config.getoption("list_scenarios")
    if fmt is None:
        return None
    from .listing import render_listing
    from .resolution import resolve

    names = dict.fromkeys(config.getoption("transport"))
    where = config.invocation_params.dir
    sys.stdout.write(render_listing([resolve(name, where) for name in names], fmt))
    return 0


#: pytest sessions configured in this process and not yet ended: above one, a run is nested
#: in another (pytester), and must not fork (see watch.py)
_depth = [0]


def pytest_configure(config: pytest.Config) -> None:
    _depth[0] += 1
    names = config.getoption("transport")
    if not names or not config.getini("conformance_contracts"):
        return
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if config.option.verbose == 0:
        # one line per case, so a slow or hung transport shows which scenario is running
        config.option.verbose = 1
    from .session import ConformanceSession

    session = ConformanceSession(config, names, nested=_depth[0] > 1)
    config.pluginmanager.register(session, "tea-conformance-session")
    if getattr(config.option, "xmlpath", None):
        from .junit import JUnitProperties

        config.pluginmanager.register(JUnitProperties(config), "tea-conformance-junit")
    _configure_model(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    _depth[0] -= 1


def _configure_model(config: pytest.Config) -> None:
    """One seed per run: chosen here, or handed down by the xdist controller."""
    from .contracts import model_scenarios

    seed = getattr(config, "workerinput", {}).get("tea_model_seed", config.getoption("model_seed"))
    if seed is None:
        import random

        seed = random.randrange(1 << 32)
    examples = config.getoption("model_examples") or model_scenarios.DEFAULT_EXAMPLES
    config.stash[_MODEL_SEED] = seed
    model_scenarios.configure(examples, seed)


_MODEL_SEED = pytest.StashKey[int]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # pytest-xdist: every worker uses the controller's seed
    if _MODEL_SEED in node.config.stash:
        node.workerinput["tea_model_seed"] = node.config.stash[_MODEL_SEED]
    node.workerinput["tea_suite_only"] = _suite_only(node.config)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> Optional[bool]:
    """``pytest --transport=NAME`` with no paths runs the suite alone: what lies in the
    directory (a clone's ``tests/``, the author's own tests) is not collected, so the
    verdict never depends on it. Paths given on the command line are collected as usual."""
    if config.getoption("transport") and config.getini("conformance_contracts") and _suite_only(config):
        return True
    return None


def _suite_only(config: pytest.Config) -> bool:
    """Whether no paths were given (an xdist worker asks its controller: its own args are given)."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        return bool(worker.get("tea_suite_only", False))
    return config.args_source != pytest.Config.ArgsSource.ARGS


def pytest_report_header(config: pytest.Config) -> Any:
    session = config.pluginmanager.get_plugin("tea-conformance-session")
    if session is None:
        return None
    examples = config.getoption("model_examples")
    return [
        *session.header(),
        f"tea-conformance model: seed {config.stash[_MODEL_SEED]} (--model-seed), "
        f"{examples or 'default'} examples per case (--model-examples)",
    ]
