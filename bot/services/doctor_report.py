"""The checks of ``bot doctor``: each one's name, status (ok, warn, fail), what was found and what to do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(slots=True)
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: Status, detail: str, fix: str | None = None) -> None:
        self.checks.append(Check(name, status, detail, fix))

    def extend(self, checks: Iterable[Check]) -> None:
        self.checks.extend(checks)

    @property
    def failed(self) -> bool:
        return any(check.status is Status.FAIL for check in self.checks)

    def count(self, status: Status) -> int:
        return sum(1 for check in self.checks if check.status is status)
