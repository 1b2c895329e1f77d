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

Money totals are exact Python ints (object arrays): slots accumulate in int64 and are
flushed into Python ints before they could overflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gridpeer.market.settlement import SlotBills

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]
_FLUSH = 2**61
_MONEY = ("bill", "baseline", "income")


def gini(x: IntArray | FloatArray) -> float:
    """Gini coefficient ``sum_ij |x_i - x_j| / (2 n sum_i |x_i|)``; 0 for all-zero input."""
    v = np.sort(np.asarray(x, dtype=np.float64))
    n = v.size
    denom = 2.0 * n * float(np.abs(v).sum())
    if n == 0 or denom == 0.0:
        return 0.0
    ranks = 2.0 * np.arange(n) - n + 1.0
    # in [0, 1] exactly (|x_i - x_j| <= |x_i| + |x_j|); rounding can leave -3e-17
    return min(1.0, max(0.0, float(2.0 * (ranks * v).sum() / denom)))


def _ratio(num: FloatArray | IntArray, den: FloatArray | IntArray) -> FloatArray:
    den_f = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den_f > 0, np.asarray(num, dtype=np.float64) / den_f, np.nan)


@dataclass(frozen=True)
class HouseKpis:
    """Per-house KPIs (arrays indexed by house)."""

    bill_wei: ObjArray
    baseline_bill_wei: ObjArray
    savings_wei: ObjArray
    income_wei: ObjArray
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
    _big: dict[str, ObjArray] = field(default_factory=dict)
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
        self._big = {k: np.zeros(self.n_houses, dtype=np.object_) for k in self._KEYS}

    def _acc(self, key: str, v: IntArray) -> None:
        pending = self._t[key]
        if int(np.abs(v).max(initial=0)) >= _FLUSH:
            raise OverflowError(f"KPI {key}: one slot's amount exceeds 2^61")
        if int(np.abs(pending).max(initial=0)) >= _FLUSH:  # both < 2^61: the sum fits
            self._big[key] = self._big[key] + pending.astype(np.object_)
            pending = np.zeros_like(pending)
        self._t[key] = pending + v

    def _total(self, key: str) -> ObjArray:
        """Exact per-house total (Python ints)."""
        out: ObjArray = self._big[key] + self._t[key].astype(np.object_)
        return out

    def _wh(self, key: str) -> IntArray:
        """Per-house energy total, Wh, int64."""
        return np.array([int(x) for x in self._total(key).tolist()], dtype=np.int64)

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
        nan = np.full(self.n_houses, np.nan)
        imp, exp = self._wh("imp"), self._wh("exp")
        return HouseKpis(
            bill_wei=self._total("bill"),
            baseline_bill_wei=self._total("baseline"),
            savings_wei=self._total("baseline") - self._total("bill"),
            income_wei=self._total("income"),
            p2p_bought_wh=self._wh("bought"),
            p2p_sold_wh=self._wh("sold"),
            grid_import_wh=imp,
            grid_export_wh=exp,
            self_sufficiency=1.0 - _ratio(imp, self._wh("load")) if self._have_load else nan,
            self_consumption=1.0 - _ratio(exp, self._wh("pv")) if self._have_pv else nan,
        )

    def community(self) -> CommunityKpis:
        """Community KPIs so far."""

        def total(k: str) -> int:
            return sum(int(v) for v in self._total(k).tolist())

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
            gini_savings=gini(
                np.array(
                    [float(x) for x in (self._total("baseline") - self._total("bill")).tolist()]
                )
            ),
            peak_import_wh=self._peak_wh,
            peak_import_w=self._peak_wh * 3600.0 / self.slot_s,
            slots=self._slots,
        )
