"""The oracle's settings (pydantic), and their check against the contract's grace.

Every time below is in **model seconds** (the clock's time, which is also the chain's
``block.timestamp``), except ``poll_s``, ``retry_s`` and ``resend_s`` (wall seconds).

A trade's timeline, for a window ``[start, end]`` and the contract's grace ``G``::

    start - lead_s        commands published (seller OUT, buyer IN)
    [start, end]          commands re-sent to a side that has not reported (resend_s, then
                          2, 4, 8 × resend_s apart)
    end + ask_again_s[k]  each silent side asked again (its command re-published)
    end + result_grace_s  the deadline: the rule decides with what reported (rules.py)
    … + settle_margin_s   time reserved to get the confirm/dispute transaction mined
    end + G               the contract closes: confirm/dispute refused, the buyer may
                          reclaim

:meth:`OracleSettings.check_grace` refuses settings whose deadline plus margin do not
fit in ``G``: they would let a silent buyer reach the reclaim before the oracle settles.
A trade whose own grace (fixed when its order was posted) is shorter gets an earlier
deadline (:meth:`OracleSettings.deadline_s`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gridpeer.oracle.rules import Tolerance


class OracleTimingError(ValueError):
    """The oracle's timings cannot settle a trade before its reclaim time."""


class OracleSettings(BaseModel):
    """Oracle settings (mount as ``oracle`` in the application settings).

    Attributes:
        community: community id (topic segment).
        confirmations: blocks mined on top of a block before its trade events are acted
            on (0 on development chains; >= 2 recommended elsewhere).
        max_span: most blocks read per ``eth_getLogs``.
        lead_s: model s before a window's start at which its commands are published.
        result_grace_s: model s after a window's end to wait for both meters (the
            deadline of :func:`gridpeer.oracle.rules.settle`).
        ask_again_s: model s after a window's end at which each silent side is asked
            again (its command re-published), increasing, each < ``result_grace_s``;
            default ``result_grace_s`` × (0.1, 0.3, 0.6), e.g. 60, 180, 360 s.
        settle_margin_s: model s reserved after the deadline for the settling
            transaction (retries included) before the contract's grace ends.
        tolerance_pct: meters agree within this percentage of the larger reading ...
        tolerance_wh: ... or within this many Wh, whichever is larger.
        poll_s: wall s between ticks.
        start_block: first block to read on a fresh state.
        retry_s: wall s before a failed chain transaction is retried.
        resend_s: wall s from a command to its first re-send during its window if
            unanswered; later re-sends double the gap, up to 8 × resend_s.
        confirm_batch_max: most trades per ``confirmBatch`` transaction (~7.1k gas per
            trade at 100, so 100 fit in ~0.8 M gas; more trades ready in one tick go in
            several transactions).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    community: str = "demo"
    confirmations: int = Field(0, ge=0)
    max_span: int = Field(500, ge=1)
    lead_s: float = Field(300.0, ge=0)
    result_grace_s: float = Field(600.0, gt=0)
    ask_again_s: tuple[float, ...] | None = None
    settle_margin_s: float = Field(120.0, ge=0)
    tolerance_pct: float = Field(2.0, ge=0, le=100)
    tolerance_wh: int = Field(5, ge=0)
    poll_s: float = Field(0.02, gt=0)
    start_block: int = Field(0, ge=0)
    retry_s: float = Field(1.0, ge=0)
    resend_s: float = Field(2.0, ge=0)
    confirm_batch_max: int = Field(100, ge=1, le=500)

    @model_validator(mode="after")
    def _schedule(self) -> OracleSettings:
        asks = self.asks_s()
        if any(a <= 0 for a in asks) or list(asks) != sorted(set(asks)):
            raise ValueError(f"ask_again_s must be positive and increasing, got {asks}")
        if asks and asks[-1] >= self.result_grace_s:
            raise ValueError(
                f"ask_again_s {asks} must end before result_grace_s ({self.result_grace_s} s)"
            )
        return self

    def asks_s(self) -> tuple[float, ...]:
        """The ask-again schedule, model s after a window's end (the default when unset)."""
        if self.ask_again_s is None:
            return tuple(self.result_grace_s * f for f in (0.1, 0.3, 0.6))
        return self.ask_again_s

    @property
    def tolerance(self) -> Tolerance:
        """The meters' agreement tolerance for :func:`gridpeer.oracle.rules.settle`."""
        return Tolerance(pct=self.tolerance_pct, wh=self.tolerance_wh)

    def settle_by_s(self) -> float:
        """Model s after a window's end by which the oracle has settled: deadline + margin."""
        return self.result_grace_s + self.settle_margin_s

    def deadline_s(self, grace_s: int) -> float:
        """Model s after a window's end at which the rule decides, for a trade whose
        grace is ``grace_s``: ``result_grace_s``, shortened to ``grace_s -
        settle_margin_s`` (at least 0) for a trade made with a smaller grace (the contract
        fixes each trade's grace when its order is posted; the admin may lower it later)."""
        return max(0.0, min(self.result_grace_s, grace_s - self.settle_margin_s))

    def check_grace(self, grace_s: int) -> None:
        """Refuse settings that cannot settle before a buyer may reclaim.

        Args:
            grace_s: the contract's ``graceSeconds`` (reclaim opens at window end + grace).

        Raises:
            OracleTimingError: naming the settings to change.
        """
        if self.settle_by_s() > grace_s:
            raise OracleTimingError(
                f"oracle settles up to {self.settle_by_s():g} s after a window "
                f"(result_grace_s {self.result_grace_s:g} + settle_margin_s "
                f"{self.settle_margin_s:g}) but the contract's grace is {grace_s} s: lower "
                "them or raise the grace (set_grace), or silent buyers could reclaim"
            )
