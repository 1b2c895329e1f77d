"""The settlement rule the oracle applies to metered deliveries (pure).

A trade's delivered energy is the **smallest** of the seller's metered OUT energy, the
buyer's metered IN energy and the contracted energy (all integer Wh). The seller is paid
only for energy both meters agree was transferred; the buyer is refunded the rest. Any
difference between the two meters (losses, meter error) is therefore never paid for.
"""

from __future__ import annotations


def delivered_wh(contracted_wh: int, seller_out_wh: int, buyer_in_wh: int) -> int:
    """Energy to confirm on chain, Wh: ``min(contracted, seller OUT, buyer IN)``.

    Raises:
        ValueError: if any amount is negative.
    """
    if min(contracted_wh, seller_out_wh, buyer_in_wh) < 0:
        raise ValueError(
            f"energies must be >= 0 Wh, got contracted={contracted_wh} "
            f"seller_out={seller_out_wh} buyer_in={buyer_in_wh}"
        )
    return min(contracted_wh, seller_out_wh, buyer_in_wh)


def payment_wei(energy_wh: int, price_wei_per_kwh: int) -> int:
    """Payment for ``energy_wh`` Wh at ``price_wei_per_kwh`` wei/kWh, rounded down (wei)."""
    if energy_wh < 0 or price_wei_per_kwh < 0:
        raise ValueError("energy and price must be >= 0")
    return energy_wh * price_wei_per_kwh // 1000
