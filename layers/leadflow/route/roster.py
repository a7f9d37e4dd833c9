"""The sales reps leads are routed to, and whether each can take a lead now.

The roster lives in the table (`leadflow.aws.roster`), not in the client file: reps come
and go, go on holiday and change weight without a deploy. A `Rep` is read with the
version it is at, so that an assignment can be written only if the rep is still as read
(see `leadflow.route.assignment`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from leadflow.config import WorkingHours
from leadflow.route.calendar import WEEKDAY_NAMES, WorkingCalendar, working_calendar

DEFAULT_CAPACITY = 25


@dataclass(frozen=True)
class Rep:
    rep_id: str
    name: str
    email: str
    teams: tuple[str, ...]
    # Countries (ISO codes, like DE) or segments (as routing rules name them) the rep covers: empty covers all.
    territories: tuple[str, ...] = ()
    weight: float = 1.0  # a weighted round-robin team gives the rep this share, relative to the others
    capacity: int = DEFAULT_CAPACITY  # open leads the rep can hold at once
    open_leads: int = 0
    # The rep's own working time; unset: the team's.
    timezone: str | None = None
    workdays: tuple[str, ...] | None = None
    hours: tuple[str, ...] | None = None
    active: bool = True
    away_until: str | None = None  # ISO 8601, UTC: away (holiday, sick) until then
    # The ledger: per team, the leads the rep was given, each counted as 1/weight at the time.
    served: dict[str, float] = field(default_factory=dict)
    last_assigned_at: str | None = None
    version: int = 0

    def calendar(self, team_hours: WorkingHours) -> WorkingCalendar:
        """When the rep works: their own hours where set, else their team's (holidays are the team's)."""
        return working_calendar(
            self.timezone or team_hours.timezone,
            tuple(self.workdays or team_hours.workdays),
            tuple(self.hours or team_hours.hours),
            tuple(team_hours.holidays),
        )

    def works(self, team_hours: WorkingHours) -> str:
        """The rep's working time in words, like "mon-fri 09:00-17:00 Europe/Berlin"."""
        days = list(self.workdays or team_hours.workdays)
        span = f"{days[0]}-{days[-1]}" if len(days) > 2 and _consecutive(days) else ",".join(days)
        return f"{span} {','.join(self.hours or team_hours.hours)} {self.timezone or team_hours.timezone}"

    def away(self, now: datetime) -> bool:
        return self.away_until is not None and datetime.fromisoformat(self.away_until) > now

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "name": self.name,
            "email": self.email,
            "teams": list(self.teams),
            "territories": list(self.territories),
            "weight": self.weight,
            "capacity": self.capacity,
            "open_leads": self.open_leads,
            "timezone": self.timezone,
            "workdays": list(self.workdays) if self.workdays is not None else None,
            "hours": list(self.hours) if self.hours is not None else None,
            "active": self.active,
            "away_until": self.away_until,
            "served": dict(self.served),
            "last_assigned_at": self.last_assigned_at,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rep:
        def strings(name: str) -> tuple[str, ...]:
            return tuple(str(v) for v in data.get(name) or ())

        def maybe(name: str) -> tuple[str, ...] | None:
            return strings(name) if data.get(name) is not None else None

        return cls(
            rep_id=str(data["rep_id"]),
            name=str(data.get("name", "")),
            email=str(data.get("email", "")),
            teams=strings("teams"),
            territories=strings("territories"),
            weight=float(data.get("weight", 1.0)),
            capacity=int(data.get("capacity", DEFAULT_CAPACITY)),
            open_leads=int(data.get("open_leads", 0)),
            timezone=data.get("timezone"),
            workdays=maybe("workdays"),
            hours=maybe("hours"),
            active=bool(data.get("active", True)),
            away_until=data.get("away_until"),
            served={str(k): float(v) for k, v in (data.get("served") or {}).items()},
            last_assigned_at=data.get("last_assigned_at"),
            version=int(data.get("version", 0)),
        )

    def with_changes(self, **changes: Any) -> Rep:
        return replace(self, **changes)


def _consecutive(days: list[str]) -> bool:
    order = [WEEKDAY_NAMES.index(day) for day in days if day in WEEKDAY_NAMES]
    return len(order) == len(days) and order == list(range(order[0], order[0] + len(order)))
