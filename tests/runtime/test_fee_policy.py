"""serve's fee policy comes from the [chain] settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridpeer.chain.fees import FeePolicy
from gridpeer.core.settings import ChainSettings
from gridpeer.runtime.serve import fee_policy


def test_defaults_replace_after_30_s_without_a_cap() -> None:
    p = fee_policy(ChainSettings())
    assert p.replace_after_s == 30.0 and p.max_fee_cap_wei is None
    assert ChainSettings().log_chunk_blocks == 2000


def test_settings_set_the_replacement_deadline_and_the_cap_in_wei() -> None:
    p = fee_policy(ChainSettings(tx_replace_after_s=5, max_fee_gwei=2.5))
    assert p == FeePolicy(replace_after_s=5.0, max_fee_cap_wei=2_500_000_000)


@pytest.mark.parametrize(
    "bad", [{"tx_replace_after_s": 0}, {"max_fee_gwei": -1}, {"log_chunk_blocks": 0}]
)
def test_nonsense_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ChainSettings(**bad)
