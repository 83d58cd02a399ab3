"""The model scenarios: Hypothesis generates sequences of operations (:mod:`.model_run`),
runs them against the transport, and shrinks a failure to the shortest sequence, printed
as a runnable script with its seed.

The rules offered follow the declared capabilities: ``subscribe``/``unsubscribe`` and
filters with ``Feature.FILTERING``, block mode with ``LOSSLESS``, ``wait_for_subscribers``
with ``SUBSCRIBER_COUNT``, counters with ``STATS``; a ``direct`` transport gets one
subscriber. ``configure()`` (called by the plugin) sets the number of examples and the seed.
"""

from __future__ import annotations

import time
import zlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tea_transports import NOBLOCK, Feature

from ..harness import ConformanceFailure, Harness
from ..scenario import ONE_TO_ONE
from . import contract
from .model_run import FENCE, ModelRun, OutOfTime, Prefix

__all__ = ["DEFAULT_EXAMPLES", "configure", "script"]

DEFAULT_EXAMPLES = 25
STEPS = 25
#: sequences start in the scenario's time but this share of it: the last one may run
#: (model_run.EXAMPLE_S at most), and the report be written
_RESERVE = 0.4
#: shrinking a failure stops this long after it was found at the latest (the shortest
#: sequence so far is reported): a busy machine may need the rest of the deadline to find one
_SHRINK_S = 30.0
_OPTIONS: Dict[str, int] = {"examples": DEFAULT_EXAMPLES, "seed": 0}

#: few, so that operations meet on the same prefix: prefixes of each other, case, non-ASCII
#: str (UTF-8) and bytes; never 0xFF first (see model_run.FENCE)
_PREFIXES: List[Prefix] = [b"", b"a", b"ab", b"A", "é", "日本", b"\x00\xfe"]
prefixes = st.one_of(
    st.sampled_from(_PREFIXES), st.binary(min_size=1, max_size=3).filter(lambda b: b[0] != 0xFF)
)
_under_prefix = st.tuples(prefixes, st.binary(max_size=4)).map(lambda t: _as_bytes(t[0]) + t[1])
payloads = st.one_of(
    _under_prefix,
    _under_prefix,
    st.binary(max_size=8),
    st.sampled_from([b"", bytes(range(256)), bytes(range(255, -1, -1)), b"A" * 3000]),
)
_BAD = st.sampled_from(["text", 42, None, [b"x"], 1.5])
_RECEIVES = st.sampled_from(["wait", "size1", "noblock", "many", "many_noblock"])
_KINDS = st.sampled_from(["bytes", "bytearray", "memoryview"])
_HAD = st.integers(0, 3)
_COUNT = st.integers(1, 3)  # receive_many(count): often fewer than are queued
_SUB = st.integers(0, 2)
_OWN = st.integers(-1, 3)
_CHANGES_DONE_BY = {
    "on": ["subscribe"],
    "longer": ["subscribe"],
    "narrow": ["subscribe"],  # a longer prefix in, the one it extends out
    "off_shorter": ["unsubscribe"],  # the start of one it has: that one stays
    "off": ["unsubscribe"],
    "off_on": ["unsubscribe", "subscribe"],
}
_CHANGES = st.sampled_from(list(_CHANGES_DONE_BY))


def configure(examples: int, seed_value: int) -> None:
    """Set the examples per case and the run's seed (each case derives its own from it)."""
    _OPTIONS.update(examples=examples, seed=seed_value)


def case_seed(h: Harness, scenario: str) -> int:
    """The same for a case in every process of a run: xdist workers agree."""
    return zlib.crc32(f"{_OPTIONS['seed']}:{scenario}:{h.target.name}:{h.protocol}".encode())


@contract(
    "CONF-MODEL-001",
    ac="model",
    priority="P0",
    title=(
        "any sequence of operations agrees with the PUB/SUB model (drop mode; rules follow "
        "the declared features)"
    ),
    patterns=ONE_TO_ONE,
)
def model_drop_mode(h: Harness) -> None:
    run_model(h, "TEA-CONF-MODEL-001", ["drop"])


@contract(
    "CONF-MODEL-002",
    ac="model",
    priority="P1",
    title="any sequence of operations in block mode agrees with the model: nothing is lost",
    features={"lossless"},
)
def model_block_mode(h: Harness) -> None:
    run_model(h, "TEA-CONF-MODEL-002", ["block"])


class _Runs:
    """What the examples of one case did: the shortest failing sequence, and the time left."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.budget_end = h.deadline - _RESERVE * max(0.0, h.remaining())
        self.shrink_end = float("inf")
        self.failure: Optional[Tuple[List[str], str, BaseException]] = None
        self.examples = self.steps = 0  # sequences run (not counting those skipped for time), steps
        self.first_failing = 0  # which sequence failed first (how many a seed needs to find it)

    def out_of_time(self) -> bool:
        return time.monotonic() >= min(self.budget_end, self.shrink_end)

    def failed(self, steps: List[str], exc: BaseException) -> None:
        if self.failure is None:
            self.first_failing = self.examples
            self.shrink_end = time.monotonic() + _SHRINK_S
        if self.failure is None or len(steps) <= len(self.failure[0]):
            self.failure = (list(steps), f"{type(exc).__name__}: {exc}", exc)


def run_model(h: Harness, scenario: str, modes: Sequence[str]) -> None:
    runs = _Runs(h)
    machine = seed(case_seed(h, scenario))(_machine(h, runs, modes))
    options = settings(
        max_examples=_OPTIONS["examples"],
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    try:
        run_state_machine_as_test(machine, settings=options)
    except BaseException as exc:  # the shortest failure we saw, whatever Hypothesis ended with
        if runs.failure is None and runs.out_of_time() and isinstance(exc, HypothesisException):
            # no operation failed; Hypothesis only noticed that sequences stopped running
            # when the time ran out (they are skipped then, which changes what it replays)
            return _report(scenario, runs, "; stopped early: the scenario's time ran out")
        steps, problem, cause = runs.failure or ([], f"{type(exc).__name__}: {exc}", exc)
        text = script(h.target.name, h.protocol, modes[0], steps, case_seed(h, scenario), scenario, problem)
        cut = "Shrinking stopped when its time ran out: a shorter sequence may fail too.\n"
        raise ConformanceFailure(
            f"{problem}\n\n{cut if runs.out_of_time() else ''}Sequence {runs.first_failing} failed first. "
            f"The shortest failing sequence (seed {_OPTIONS['seed']}: rerun with "
            f"--model-seed={_OPTIONS['seed']}), as a script:\n\n{text}"
        ) from cause
    _report(scenario, runs, "")


def _report(scenario: str, runs: _Runs, note: str) -> None:
    # captured by pytest: shown with -rP; the figure for "how many sequences ran"
    print(
        f"{scenario}: {runs.examples} sequence(s), {runs.steps} operation(s), seed {_OPTIONS['seed']}{note}"
    )


def script(
    transport: str, protocol: str, on_hwm: str, steps: List[str], seed_value: int, scenario: str, problem: str
) -> str:
    """The sequence as a Python script that runs it again against the transport."""
    return "\n".join(
        [
            f"# {scenario} on {transport} over {protocol} (case seed {seed_value}); it failed with:",
            *(f"#   {line}" for line in problem.splitlines()[:5]),
            "from tea_transports import NOBLOCK",
            "from tea_conformance.contracts.model_run import ModelRun",
            "",
            f"with ModelRun.start({transport!r}, {protocol!r}, on_hwm={on_hwm!r}) as run:",
            *(f"    {step}" for step in steps),
            "",
        ]
    )


def _machine(h: Harness, runs: _Runs, modes: Sequence[str]) -> Any:
    features = h.target.cls.capabilities.features
    filtering = Feature.FILTERING in features
    most = 1 if h.pattern == "direct" else 3
    checks = ["bad input"] + ["stats"] * (Feature.STATS in features)
    checks += ["subscribers"] * (Feature.SUBSCRIBER_COUNT in features)

    class PubSubModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.run: Optional[ModelRun] = None
            self.steps: List[str] = []
            self.broken = False

        @property
        def r(self) -> ModelRun:
            assert self.run is not None, "a rule ran before start()"
            return self.run

        def _do(self, step: str, call: Any, *args: Any) -> None:
            if self.broken:
                return
            self.steps.append(step)
            runs.steps += 1
            try:
                call(*args)
            except BaseException as exc:
                self.broken = True
                if h.expired() or isinstance(exc, OutOfTime):  # time, not the transport, ended it
                    return
                runs.failed(self.steps, exc)
                raise

        def _had(self, index: int, own: int) -> Optional[bytes]:
            """The ``own``-th prefix subscriber ``index`` has had, if any (operations that meet
            on the same prefix are where faults of combination hide)."""
            sub = self._sub(index)
            if sub is None or own < 0:
                return None
            had = sorted(p for p in self.r.models[sub].known if not p.startswith(FENCE))
            return had[own % len(had)] if had else None

        def _sub(self, index: int) -> Optional[int]:
            open_ = self.run.open() if self.run else []
            return open_[index % len(open_)] if open_ else None

        @initialize(on_hwm=st.sampled_from(list(modes)), filters=st.lists(prefixes, min_size=1, max_size=3))
        def start(self, on_hwm: str, filters: List[Prefix]) -> None:
            """The publisher and a first subscriber, fenced: most faults need one."""
            if runs.out_of_time():
                return  # out of time: the remaining examples pass at once
            self.run = ModelRun(h, on_hwm)
            runs.examples += 1
            self.connect(filters, True)

        @precondition(lambda self: self.run is not None and len(self.r.subs) < most)
        @rule(filters=st.lists(prefixes, min_size=1, max_size=3), fence=st.booleans())
        def connect(self, filters: List[Prefix], fence: bool) -> None:
            filters = filters if filtering else []
            self._do(
                f"run.connect({_literal(filters)})" if filters else "run.connect()", self.r.connect, filters
            )
            if fence:
                self._do(f"run.fence({len(self.r.subs) - 1})", self.r.fence, len(self.r.subs) - 1)

        @precondition(lambda self: self.run is not None and bool(self.run.open()))
        @rule(i=_SUB)
        def fence(self, i: int) -> None:
            sub = self._sub(i)
            self._do(f"run.fence({sub})", self.r.fence, sub)

        @precondition(lambda self: self.run is not None and filtering and bool(self.run.open()))
        @rule(
            i=_SUB,
            prefix=prefixes,
            own=_OWN,
            how=_CHANGES,
            fence=st.booleans(),
        )
        def change(self, i: int, prefix: Prefix, own: int, how: str, fence: bool) -> None:
            """Subscribe, unsubscribe, or unsubscribe and subscribe again: a new prefix, or
            (``own`` >= 0) one this subscriber has had; or subscribe one that extends it, and
            maybe unsubscribe the one it extends (narrow); or unsubscribe its start."""
            sub, had = self._sub(i), self._had(i, own)
            if had is not None:
                extended = had + _as_bytes(prefix)[:2]
                prefix = {"longer": extended, "narrow": extended, "off_shorter": had[:-1]}.get(how, had)
            changes = [(what, prefix) for what in _CHANGES_DONE_BY[how]]
            if how == "narrow" and had is not None:  # and the shorter one goes
                changes.append(("unsubscribe", had))
            for what, changed in changes:
                self._do(f"run.{what}({sub}, {_literal(changed)})", getattr(self.r, what), sub, changed)
            if fence:
                self._do(f"run.fence({sub})", self.r.fence, sub)

        @precondition(lambda self: self.run is not None)
        @rule(message=payloads, noblock=st.booleans(), kind=_KINDS, i=_SUB, own=_OWN)
        def send(self, message: bytes, noblock: bool, kind: str, i: int, own: int) -> None:
            message = (self._had(i, own) or b"") + message
            if self.r.room(1, len(message)):
                flags = ", NOBLOCK" if noblock else ""
                kind_arg = "" if kind == "bytes" else f", kind={kind!r}"
                step = f"run.send({_literal(message)}{flags}{kind_arg})"
                self._do(step, self.r.send, message, NOBLOCK if noblock else 0, kind)

        @precondition(lambda self: self.run is not None)
        @rule(messages=st.lists(payloads, max_size=20), i=_SUB, own=_OWN)
        def send_many(self, messages: List[bytes], i: int, own: int) -> None:
            messages = [(self._had(i, own) or b"") + m for m in messages]
            if self.r.room(len(messages), sum(map(len, messages))):
                self._do(f"run.send_many({_literal(messages)})", self.r.send_many, messages)

        @precondition(lambda self: self.run is not None and bool(self.run.open()))
        @rule(i=_SUB, own=_HAD, messages=st.lists(payloads, min_size=2, max_size=8), count=_COUNT)
        def burst(self, i: int, own: int, messages: List[bytes], count: int) -> None:
            """A burst under a prefix the subscriber has had, read at once in batches of
            ``count`` (NOBLOCK): what a batch does not take stays queued, whole and in order."""
            sub, had = self._sub(i), self._had(i, own) or b""
            messages = [had + m for m in messages]
            if self.r.room(len(messages), sum(map(len, messages))):
                self._do(f"run.send_many({_literal(messages)})", self.r.send_many, messages)
                for _ in range(-(-len(messages) // count)):
                    step = f"run.receive({sub}, 'many_noblock', {count})"
                    self._do(step, self.r.receive, sub, "many_noblock", count)

        @precondition(lambda self: self.run is not None)
        @rule(count=st.integers(200, 1500), big=st.integers(0, 6), prefix=prefixes)
        def stream(self, count: int, big: int, prefix: Prefix) -> None:
            head = _as_bytes(prefix)
            if big == 0:  # one message past 1 MiB
                step = f"run.stream([{_literal(head)} + bytes(range(256)) * 4097])"
                self._do(step, self.r.stream, [head + bytes(range(256)) * 4097])
            else:
                step = f"run.stream([{_literal(head)} + b'%d' % n for n in range({count})])"
                self._do(step, self.r.stream, [head + b"%d" % n for n in range(count)])

        @precondition(lambda self: self.run is not None and bool(self.run.open()))
        @rule(i=_SUB, how=_RECEIVES, count=_COUNT)
        def receive(self, i: int, how: str, count: int) -> None:
            sub = self._sub(i)
            if not how.startswith("many"):
                self._do(f"run.receive({sub}, {how!r})", self.r.receive, sub, how)
            else:  # fewer than are queued, often: what is left must stay queued
                self._do(f"run.receive({sub}, {how!r}, {count})", self.r.receive, sub, how, count)

        @precondition(lambda self: self.run is not None and bool(self.run.open()))
        @rule(i=_SUB, waiting=st.booleans())
        def close(self, i: int, waiting: bool) -> None:
            sub = self._sub(i)
            what = "close_while_receiving" if waiting else "close"
            self._do(f"run.{what}({sub})", getattr(self.run, what), sub)

        # one rule for the calls that move no message, so they take a smaller share of the
        # steps than the sends, receives and changes among which faults of combination hide
        @precondition(lambda self: self.run is not None)
        @rule(what=st.sampled_from(checks), payload=_BAD)
        def check(self, what: str, payload: Any) -> None:
            if what == "stats":
                self._do("run.check_stats()", self.r.check_stats)
            elif what == "subscribers":
                self._do("run.wait_for_subscribers()", self.r.wait_for_subscribers)
            else:
                self._do(f"run.send_bad({payload!r})", self.r.send_bad, payload)

        def teardown(self) -> None:
            if self.run is None:
                return
            try:
                if not self.broken:
                    self._do("run.finish()", self.r.finish)
            finally:
                for transport in [self.r.pub, *self.r.subs]:
                    transport.close()

    return PubSubModel


_NAMED = {bytes(range(256)): "bytes(range(256))", bytes(range(255, -1, -1)): "bytes(range(255, -1, -1))"}


def _literal(value: Any) -> str:
    """``repr`` that keeps the script short: long runs and well-known payloads by name."""
    if isinstance(value, list):
        return "[" + ", ".join(map(_literal, value)) + "]"
    if isinstance(value, bytes) and value in _NAMED:
        return _NAMED[value]
    if isinstance(value, bytes) and len(value) > 64 and value == value[:1] * len(value):
        return f"{value[:1]!r} * {len(value)}"
    return repr(value)


def _as_bytes(prefix: Prefix) -> bytes:
    return prefix.encode("utf-8") if isinstance(prefix, str) else bytes(prefix)
