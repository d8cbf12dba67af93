"""Fault injection: make the local server misbehave on purpose, the ways MAST does.

A :class:`FaultPlan` is a tuple of :class:`FaultRule` plus a seed. Each rule picks requests by
URL path and/or MAST service name (shell-style globs, case-insensitive) and says what to do to
them:

=============  ====================================================================================
kind           what the client sees
=============  ====================================================================================
``reset``      the connection is reset (TCP RST) without any response
``500`` ...    HTTP 500, 502, 503 or 504 (503 carries ``Retry-After`` when ``retry_after`` is set)
``429``        HTTP 429 with ``Retry-After: retry_after`` (default 1 s)
``slow``       the reply, ``delay`` seconds late (default 1 s)
``truncate``   a reply promising its full ``Content-Length`` but sending only ``fraction`` of the
               body (default half), then closing the connection
``executing``  ``EXECUTING``, without the job ever running: a job that never finishes
``drop``       the server forgets the request's job first, so a replayed poll starts it over
``lost``       the server forgets the job and answers ERROR, as MAST's legacy server did for a job
               thread that died
=============  ====================================================================================

Which matching requests get the fault: every one by default; ``every=N`` makes only each N-th
matching request a candidate, ``probability=p`` keeps a candidate with probability ``p`` (drawn
from a generator seeded by the plan's seed and the rule's position, so a run is reproducible for a
given order of requests), and ``times=N`` stops after N injections. Rules are tried in order and
the first that fires wins; a rule counts a request only when it is reached.

The spec syntax (``mastkit serve --fault SPEC``, the ``MASTKIT_SERVER_FAULTS`` variable) is
colon-separated ``key=value`` pairs, e.g. ``service=Mast.Caom.Cone:kind=503:times=2`` or
``path=/api/v0.1/Download/*:kind=truncate:probability=0.1``. Keys: ``kind`` (required),
``service``, ``path``, ``probability`` (or ``p``), ``times``, ``every``, ``retry_after``,
``delay``, ``fraction``. The variable holds several specs separated by ``;``, and
``MASTKIT_SERVER_FAULT_SEED`` the seed.

Service rules apply to invoke requests (the app decodes the request first); path rules apply to
every route.
"""

from __future__ import annotations

import fnmatch
import os
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

__all__ = [
    "FAULT_KINDS",
    "FaultCount",
    "FaultInjector",
    "FaultPlan",
    "FaultRule",
    "FaultSpecError",
]

#: Every fault kind a rule may name.
FAULT_KINDS: Final = frozenset(
    {"reset", "500", "502", "503", "504", "429", "slow", "truncate", "executing", "drop", "lost"}
)
STATUS_KINDS: Final = frozenset({"500", "502", "503", "504", "429"})
ENV_FAULTS: Final = "MASTKIT_SERVER_FAULTS"
ENV_SEED: Final = "MASTKIT_SERVER_FAULT_SEED"
_ALIASES: Final = {"p": "probability", "retry-after": "retry_after"}


class FaultSpecError(ValueError):
    """A fault rule or spec that cannot be understood."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault and the requests it applies to (see the module documentation).

    Parameters
    ----------
    kind : str
        One of :data:`FAULT_KINDS`.
    service : str, optional
        Glob on the MAST service name (``Mast.Caom.*``); case-insensitive.
    path : str, optional
        Glob on the URL path (``/api/v0.1/Download/*``).
    probability : float
        Chance that a candidate request gets the fault.
    times : int, optional
        Most injections (None: unlimited).
    every : int, optional
        Only each ``every``-th matching request is a candidate.
    retry_after : float, optional
        ``Retry-After`` seconds of a 429 (default 1) or 503 (none unless given).
    delay : float
        Seconds a ``slow`` reply is held.
    fraction : float
        Share of the body a ``truncate`` reply sends, in [0, 1).
    """

    kind: str
    service: str | None = None
    path: str | None = None
    probability: float = 1.0
    times: int | None = None
    every: int | None = None
    retry_after: float | None = None
    delay: float = 1.0
    fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(FAULT_KINDS))}"
            )
        if not 0.0 <= self.probability <= 1.0:
            raise FaultSpecError(f"probability must be in [0, 1], not {self.probability!r}")
        if self.times is not None and self.times < 0:
            raise FaultSpecError(f"times must be >= 0, not {self.times!r}")
        if self.every is not None and self.every < 1:
            raise FaultSpecError(f"every must be >= 1, not {self.every!r}")
        if self.retry_after is not None and not 0.0 <= self.retry_after <= 86_400:
            raise FaultSpecError(f"retry_after must be in [0, 86400], not {self.retry_after!r}")
        if not 0.0 <= self.delay <= 3600:
            raise FaultSpecError(f"delay must be in [0, 3600] seconds, not {self.delay!r}")
        if not 0.0 <= self.fraction < 1.0:
            raise FaultSpecError(f"fraction must be in [0, 1), not {self.fraction!r}")
        for name in ("service", "path"):
            value = getattr(self, name)
            if value is not None and (
                not value
                or len(value) > 200
                or value != value.strip()
                or any(c in value for c in ":;=")
            ):
                raise FaultSpecError(
                    f"{name} must be a glob of 1 to 200 characters without ':', ';', '=' or "
                    f"surrounding spaces, not {value!r}"
                )

    @property
    def status(self) -> int | None:
        """The HTTP status of a status fault, else None."""
        return int(self.kind) if self.kind in STATUS_KINDS else None

    @property
    def retry_after_header(self) -> str | None:
        """The ``Retry-After`` value sent with this fault, if any."""
        seconds = self.retry_after
        if seconds is None and self.kind == "429":
            seconds = 1.0
        if seconds is None or self.kind not in ("429", "503"):
            return None
        return f"{seconds:g}"

    def matches(self, path: str, service: str | None) -> bool:
        """Whether a request for ``path`` (and ``service``, for invoke requests) is selected."""
        if self.path is not None and not fnmatch.fnmatchcase(path, self.path):
            return False
        if self.service is not None:
            if service is None:
                return False
            return fnmatch.fnmatchcase(service.lower(), self.service.lower())
        return True

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """A rule from its spec, e.g. ``service=Mast.Caom.Cone:kind=503:times=2``.

        Raises
        ------
        FaultSpecError
        """
        values: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        for part in spec.strip().split(":"):
            if not part.strip():
                continue
            key, sep, raw = part.partition("=")
            key = _ALIASES.get(key.strip().lower(), key.strip().lower())
            raw = raw.strip()
            if not sep or key not in known:
                raise FaultSpecError(
                    f"bad fault spec part {part!r} in {spec!r}: expected key=value with a key "
                    f"among {', '.join(sorted(known))}"
                )
            if key in values:
                raise FaultSpecError(f"{key} given twice in {spec!r}")
            values[key] = _convert(key, raw, spec)
        if "kind" not in values:
            raise FaultSpecError(f"fault spec {spec!r} has no kind=")
        return cls(**values)

    def spec(self) -> str:
        """The spec of this rule (``FaultRule.parse(rule.spec()) == rule``)."""
        parts = [f"kind={self.kind}"]
        defaults = FaultRule("reset")
        for f in fields(self):
            if f.name == "kind":
                continue
            value = getattr(self, f.name)
            if value != getattr(defaults, f.name):
                parts.append(
                    f"{f.name}={value!r}" if isinstance(value, float) else f"{f.name}={value}"
                )
        return ":".join(parts)


def _convert(key: str, raw: str, spec: str) -> Any:
    try:
        if key in ("times", "every"):
            return int(raw)
        if key in ("probability", "retry_after", "delay", "fraction"):
            value = float(raw)
            if value != value:  # NaN
                raise ValueError(raw)
            return value
    except ValueError:
        raise FaultSpecError(f"{key}={raw!r} in {spec!r} is not a number") from None
    if key == "kind":
        return raw.lower()
    return raw


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The fault rules of a server and the seed of their random draws.

    Examples
    --------
    >>> plan = FaultPlan.parse(["service=Mast.Caom.Cone:kind=503:times=2"], seed=1)
    >>> plan.rules[0].kind, plan.rules[0].times
    ('503', 2)
    >>> bool(FaultPlan())
    False
    """

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    def __bool__(self) -> bool:
        return bool(self.rules)

    @classmethod
    def parse(cls, specs: str | Iterable[str], *, seed: int = 0) -> FaultPlan:
        """A plan from specs (one per item; a string may hold several separated by ``;``).

        Raises
        ------
        FaultSpecError
        """
        items = [specs] if isinstance(specs, str) else list(specs)
        rules = tuple(
            FaultRule.parse(part) for item in items for part in item.split(";") if part.strip()
        )
        return cls(rules=rules, seed=seed)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultPlan:
        """The plan in ``MASTKIT_SERVER_FAULTS`` / ``MASTKIT_SERVER_FAULT_SEED`` (empty if unset).

        Raises
        ------
        FaultSpecError
        """
        env = os.environ if environ is None else environ
        raw_seed = env.get(ENV_SEED, "").strip()
        try:
            seed = int(raw_seed) if raw_seed else 0
        except ValueError:
            raise FaultSpecError(f"{ENV_SEED}={raw_seed!r} is not an integer") from None
        return cls.parse(env.get(ENV_FAULTS, ""), seed=seed)

    def specs(self) -> list[str]:
        """The specs of the rules, in order."""
        return [rule.spec() for rule in self.rules]


@dataclass(frozen=True, slots=True)
class FaultCount:
    """How often a rule was reached (``seen``) and fired (``injected``)."""

    rule: FaultRule
    seen: int
    injected: int


class FaultInjector:
    """The running state of a :class:`FaultPlan`: counters and seeded random draws.

    Thread-safe; one per app.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._lock = threading.Lock()
        self._seen = [0] * len(plan.rules)
        self._injected = [0] * len(plan.rules)
        self._rngs = [random.Random(f"{plan.seed}:{i}") for i in range(len(plan.rules))]

    def choose(self, path: str, service: str | None) -> FaultRule | None:
        """The fault for this request, or None (counters advance as a side effect)."""
        with self._lock:
            for index, rule in enumerate(self.plan.rules):
                if not rule.matches(path, service):
                    continue
                self._seen[index] += 1
                if rule.every is not None and self._seen[index] % rule.every:
                    continue
                if rule.times is not None and self._injected[index] >= rule.times:
                    continue
                if rule.probability < 1.0 and self._rngs[index].random() >= rule.probability:
                    continue
                self._injected[index] += 1
                return rule
        return None

    def counts(self) -> list[FaultCount]:
        """Per rule, in plan order: requests reached and faults injected so far."""
        with self._lock:
            return [
                FaultCount(rule, seen, injected)
                for rule, seen, injected in zip(
                    self.plan.rules, self._seen, self._injected, strict=True
                )
            ]

    def injected(self, kind: str | None = None) -> int:
        """Faults injected so far (of ``kind``, or all)."""
        return sum(c.injected for c in self.counts() if kind is None or c.rule.kind == kind)
