"""The baselines' trip decisions, from the lending market's price as the pending block shows it (the
information the liquidator acts on).

- single-threshold: trips when the lending price is 20% below its one-hour high, resumes an hour later.
- kill-switch: what deployed kill switches do (Aave's and Spark's guardian pausing the reserve, which
  stops liquidations too): a guardian pauses once the lending price has stayed 5% or more away from the
  reference for `KILL_SWITCH_REACTION_S` (an alert, then a multisig), and unpauses once it has been back
  within 1% for as long. A freeze (new borrowing stops, liquidations go on) cannot matter in a replay
  where nobody borrows, so the pause is the one modelled.
"""

from __future__ import annotations

from collections import deque

SINGLE_THRESHOLD_DROP = 0.20
SINGLE_THRESHOLD_WINDOW_S = 3_600
SINGLE_THRESHOLD_HALT_S = 3_600
KILL_SWITCH_TRIP = 0.05
KILL_SWITCH_CLEAR = 0.01
KILL_SWITCH_REACTION_S = 600


class SingleThreshold:
    rule, reason = "single-threshold", "20% below 1-hour high"

    def __init__(self) -> None:
        self.window: deque[tuple[float, float]] = deque()
        self.tripped_at: float | None = None

    def decide(self, t: float, price: float, reference: float) -> str | None:
        """ "trip", "resume" or None."""
        self.window.append((t, price))
        while self.window[0][0] < t - SINGLE_THRESHOLD_WINDOW_S:
            self.window.popleft()
        if self.tripped_at is None:
            if price < (1 - SINGLE_THRESHOLD_DROP) * max(p for _, p in self.window):
                self.tripped_at = t
                return "trip"
        elif t - self.tripped_at >= SINGLE_THRESHOLD_HALT_S:
            self.tripped_at = None
            return "resume"
        return None


class KillSwitch:
    rule, reason = "kill-switch", "guardian pause: 5% off the reference for 10 minutes"

    def __init__(self) -> None:
        self.paused = False
        self.since: float | None = None  # when the condition for the next action started to hold

    def decide(self, t: float, price: float, reference: float) -> str | None:
        off = abs(price / reference - 1) if reference > 0 else 0.0
        holds = off <= KILL_SWITCH_CLEAR if self.paused else off >= KILL_SWITCH_TRIP
        if not holds:
            self.since = None
            return None
        if self.since is None:
            self.since = t
        if t - self.since < KILL_SWITCH_REACTION_S:
            return None
        self.since, self.paused = None, not self.paused
        return "trip" if self.paused else "resume"
