"""`leadflow report verify`: every figure recounted from the leads themselves, beside the report items.

Each lead's profile keeps what the report counted for it (leadflow.report.figures); adding up
`recount(profile)` over every lead must give exactly what the report items hold, shard by
shard summed, for every dimension, day, figure and value. A difference means a figure was
lost or counted twice. Leads stored before the report counted have no record: they are in no
figure, and are only counted here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from leadflow.aws.leads_table import PROFILE, REPORT_PREFIX
from leadflow.report.figures import recount

Key = tuple[str, str, str]  # dimension, day, "<figure>|<value>"


@dataclass(frozen=True)
class Difference:
    dimension: str
    day: str
    figure: str
    value: str
    counted: int  # what the report items hold
    recounted: int  # what the leads add up to


@dataclass
class Recount:
    """The report items and the leads' own figures, added up as a Scan's pages come in."""

    counted: Counter[Key]
    recounted: Counter[Key]
    leads: int = 0
    uncounted: int = 0  # leads stored before the report counted: they have no record, and are in no figure

    @classmethod
    def empty(cls) -> Recount:
        return cls(Counter(), Counter())

    def add(self, items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            pk, sk = str(item.get("pk", "")), str(item.get("sk", ""))
            if pk.startswith(REPORT_PREFIX):
                dimension, day = pk.removeprefix(REPORT_PREFIX), sk.rsplit("#", 1)[0]
                for name, amount in item.items():
                    if "|" in name:
                        self.counted[dimension, day, name] += int(amount)
            elif sk == PROFILE:
                self.leads += 1
                if "report" not in item:
                    self.uncounted += 1
                for delta in recount(item):  # type: ignore[arg-type]
                    for dimension, value in delta.values:
                        self.recounted[dimension, delta.day, f"{delta.figure}|{value}"] += delta.amount

    def differences(self) -> list[Difference]:
        found = []
        for key in sorted(self.counted.keys() | self.recounted.keys()):
            if self.counted[key] != self.recounted[key]:
                dimension, day, name = key
                figure, value = name.split("|", 1)
                found.append(Difference(dimension, day, figure, value, self.counted[key], self.recounted[key]))
        return found
