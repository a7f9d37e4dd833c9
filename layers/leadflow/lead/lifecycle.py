"""A lead's stages and the moves allowed between them, in one place.

    new -> junk | nurture | sales_ready -> assigned -> accepted | rejected
    assigned -> sales_ready (not accepted in time: back to the team's queue)
    nurture -> qualifying -> sales_ready | nurture | junk (phone first: a qualifier's call decides)
    rejected -> nurture (recycled) | junk (disqualified)
    accepted -> contacted -> meeting -> opportunity -> won | lost

Qualification moves leads among new, junk, nurture and sales_ready; routing and the reps
move them on. A lead leaves junk when ops restore it, or when requalified without a
disqualifying reason.
"""

from __future__ import annotations

STAGES = (
    "new", "junk", "nurture", "qualifying", "sales_ready", "assigned", "accepted", "rejected",
    "contacted", "meeting", "opportunity", "won", "lost",
)  # fmt: skip

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"junk", "nurture", "sales_ready"}),
    "junk": frozenset({"nurture", "sales_ready"}),  # restored by ops, or its reasons no longer hold
    "nurture": frozenset({"sales_ready", "junk", "qualifying"}),
    "qualifying": frozenset({"sales_ready", "nurture", "junk"}),  # the qualifier's outcome
    "sales_ready": frozenset({"assigned"}),
    "assigned": frozenset({"accepted", "rejected", "sales_ready"}),  # sales_ready: escalated back to the queue
    "rejected": frozenset({"nurture", "junk"}),
    "accepted": frozenset({"contacted", "lost"}),
    "contacted": frozenset({"meeting", "lost"}),
    "meeting": frozenset({"opportunity", "lost"}),
    "opportunity": frozenset({"won", "lost"}),
    "won": frozenset(),
    "lost": frozenset(),
}

# The stages qualification decides between; a lead past them is scored but not moved.
QUALIFYING_STAGES = frozenset({"new", "junk", "nurture"})


class InvalidTransition(ValueError):
    def __init__(self, current: str, target: str):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "nowhere: it is final"
        super().__init__(f"a lead cannot move from {current} to {target}; from {current} it can move to {allowed}")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(current, target)
