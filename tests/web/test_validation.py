"""Pydantic's validation errors rewritten in the user's units."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridpeer.web.models_market import Currency, OfferIn
from gridpeer.web.validation import problems

CLP = Currency(code="CLP", wei_per_unit=str(10**12))
OK = {"wh": 500, "price": 150 * 10**12, "start": 10**9, "end": 10**9 + 3600}


@pytest.mark.parametrize(
    ("change", "msg"),
    [
        ({"price": 2**64}, "price must be at most 18,446,744.07371 CLP/kWh"),
        ({"price": -5}, "price must be above 0 CLP/kWh"),
        ({"wh": 0}, "energy must be at least 1 Wh"),
        ({"wh": 2**32}, "energy must be at most 4,294,967.3 kWh"),
        ({"start": 5}, "delivery start must be at least 1970-01-02 00:00 UTC"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_messages_in_units(change: dict[str, int], msg: str) -> None:
    with pytest.raises(ValidationError) as err:
        OfferIn.model_validate(OK | change)
    out = problems(err.value.errors(), CLP)
    assert [d["msg"] for d in out] == [msg]
    assert "Input should" not in msg
