"""serve's oracle settings: the [oracle] table, and 2 confirmations off development chains."""

from __future__ import annotations

import pytest

from gridpeer.core.settings import ConfigError, load_settings
from gridpeer.runtime.serve import oracle_settings


def test_development_chains_act_at_once_others_wait_two_blocks() -> None:
    s = load_settings(None, community="villa")
    assert oracle_settings(s, 31337).confirmations == 0
    assert oracle_settings(s, 100).confirmations == 2  # e.g. Gnosis
    assert oracle_settings(s, 100).community == "villa"


def test_the_table_overrides_the_defaults() -> None:
    s = load_settings(None, oracle={"confirmations": 5, "result_grace_s": 300.0})
    got = oracle_settings(s, 100)
    assert (got.confirmations, got.result_grace_s) == (5, 300.0)


def test_an_invalid_value_is_named() -> None:
    s = load_settings(None, oracle={"tolerance_pct": 250})
    with pytest.raises(ConfigError, match=r"\[oracle\].*tolerance_pct"):
        oracle_settings(s, 31337)
