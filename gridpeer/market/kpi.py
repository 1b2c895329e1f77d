"""Key performance indicators per house and per community, accumulated slot by slot.

Feed :meth:`KpiAccumulator.add` the :class:`~gridpeer.market.settlement.SlotBills` of
every slot (optionally with each house's load and PV energy of the slot, Wh), then call
:meth:`KpiAccumulator.report`. Definitions (energy Wh, money wei, ratios 0..1):

* bill: net cost (P2P + fees + grid − income); baseline: the same slots without P2P
  (all bid Wh imported, all ask Wh exported); savings = baseline − bill;
* prosumer income: P2P sales + feed-in revenue;
* self-sufficiency: ``1 - grid import / load``; self-consumption:
  ``1 - grid export / PV`` (community: over the sums; NaN when load/PV were not given);
* share traded P2P: P2P Wh / bid Wh;
* social welfare: sum over matches of (bid − ask) × Wh, wei;
* fairness: Gini coefficient of per-house savings (``sum|x_i - x_j| / (2 n sum|x_i|)``,
  0 = equal, defined for negative savings too; 0 when all savings are 0);
* peak grid import: the largest community import in one slot, Wh and average W.

Money accumulates in int64 per house (ample for realistic wei prices; an overflow raises).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gridpeer.market.settlement import SlotBills

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_LIMIT = 2**62


def gini(x: IntArray | FloatArray) -> float:
    """Gini coefficient ``sum_ij |x_i - x_j| / (2 n sum_i |x_i|)``; 0 for all-zero input."""
    v = np.sort(np.asarray(x, dtype=np.float64))
    n = v.size
    denom = 2.0 * n * float(np.abs(v).sum())
    if n == 0 or denom == 0.0:
        return 0.0
    ranks = 2.0 * np.arange(n) - n + 1.0
    return float(2.0 * (ranks * v).sum() / denom)


def _ratio(num: FloatArray | IntArray, den: FloatArray | IntArray) -> FloatArray:
    den_f = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den_f > 0, np.asarray(num, dtype=np.float64) / den_f, np.nan)


@dataclass(frozen=True)
class HouseKpis:
    """Per-house KPIs (arrays indexed by house)."""

    bill_wei: IntArray
    baseline_bill_wei: IntArray
    savings_wei: IntArray
    income_wei: IntArray
    p2p_bought_wh: IntArray
    p2p_sold_wh: IntArray
    grid_import_wh: IntArray
    grid_export_wh: IntArray
    self_sufficiency: FloatArray
    self_consumption: FloatArray


@dataclass(frozen=True)
class CommunityKpis:
    """Community KPIs (totals over houses and slots)."""

    bill_wei: int
    baseline_bill_wei: int
    savings_wei: int
    prosumer_income_wei: int
    self_sufficiency: float
    self_consumption: float
    p2p_share: float
    social_welfare_wei: int
    gini_savings: float
    peak_import_wh: int
    peak_import_w: float
    slots: int


@dataclass
class KpiAccumulator:
    """Running totals over slots.

    Attributes:
        n_houses: number of houses.
        slot_s: slot length, s (for peak power in W).
    """

    n_houses: int
    slot_s: int = 900
    _t: dict[str, IntArray] = field(default_factory=dict)
    _welfare: int = 0
    _peak_wh: int = 0
    _slots: int = 0
    _have_load: bool = False
    _have_pv: bool = False

    _KEYS = (
        "bill",
        "baseline",
        "income",
        "bought",
        "sold",
        "imp",
        "exp",
        "bid_wh",
        "load",
        "pv",
    )

    def __post_init__(self) -> None:
        self._t = {k: np.zeros(self.n_houses, dtype=np.int64) for k in self._KEYS}

    def _acc(self, key: str, v: IntArray) -> None:
        new = self._t[key] + v
        if int(np.abs(new).max(initial=0)) >= _LIMIT:
            raise OverflowError(f"KPI total {key} leaves the int64 range")
        self._t[key] = new

    def add(
        self, bills: SlotBills, load_wh: IntArray | None = None, pv_wh: IntArray | None = None
    ) -> None:
        """Add one slot's bills; ``load_wh``/``pv_wh``: per-house energy of the slot, Wh."""
        if bills.p2p_bought_wh.shape[0] != self.n_houses:
            raise ValueError(f"bills are for {bills.p2p_bought_wh.shape[0]} houses")
        self._acc("bill", bills.net_cost_wei)
        self._acc("baseline", bills.baseline_cost_wei)
        self._acc("income", bills.p2p_received_wei + bills.grid_received_wei)
        self._acc("bought", bills.p2p_bought_wh)
        self._acc("sold", bills.p2p_sold_wh)
        self._acc("imp", bills.grid_import_wh)
        self._acc("exp", bills.grid_export_wh)
        self._acc("bid_wh", bills.p2p_bought_wh + bills.grid_import_wh)
        if load_wh is not None:
            self._acc("load", np.asarray(load_wh, dtype=np.int64))
            self._have_load = True
        if pv_wh is not None:
            self._acc("pv", np.asarray(pv_wh, dtype=np.int64))
            self._have_pv = True
        self._welfare += bills.welfare_wei
        self._peak_wh = max(self._peak_wh, int(bills.grid_import_wh.sum()))
        self._slots += 1

    def houses(self) -> HouseKpis:
        """Per-house KPIs so far."""
        t = self._t
        nan = np.full(self.n_houses, np.nan)
        return HouseKpis(
            bill_wei=t["bill"].copy(),
            baseline_bill_wei=t["baseline"].copy(),
            savings_wei=t["baseline"] - t["bill"],
            income_wei=t["income"].copy(),
            p2p_bought_wh=t["bought"].copy(),
            p2p_sold_wh=t["sold"].copy(),
            grid_import_wh=t["imp"].copy(),
            grid_export_wh=t["exp"].copy(),
            self_sufficiency=1.0 - _ratio(t["imp"], t["load"]) if self._have_load else nan,
            self_consumption=1.0 - _ratio(t["exp"], t["pv"]) if self._have_pv else nan,
        )

    def community(self) -> CommunityKpis:
        """Community KPIs so far."""
        t = self._t

        def total(k: str) -> int:
            return sum(int(v) for v in t[k].tolist())

        load, pv, bid = total("load"), total("pv"), total("bid_wh")
        return CommunityKpis(
            bill_wei=total("bill"),
            baseline_bill_wei=total("baseline"),
            savings_wei=total("baseline") - total("bill"),
            prosumer_income_wei=total("income"),
            self_sufficiency=1.0 - total("imp") / load if self._have_load and load else np.nan,
            self_consumption=1.0 - total("exp") / pv if self._have_pv and pv else np.nan,
            p2p_share=total("bought") / bid if bid else 0.0,
            social_welfare_wei=self._welfare,
            gini_savings=gini(t["baseline"] - t["bill"]),
            peak_import_wh=self._peak_wh,
            peak_import_w=self._peak_wh * 3600.0 / self.slot_s,
            slots=self._slots,
        )
