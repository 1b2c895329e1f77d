from __future__ import annotations

import pytest

from gridpeer.telemetry.schemas import Device
from gridpeer.telemetry.topics import (
    Topic,
    TopicError,
    check_name,
    house_filter,
    parse_topic,
    reading_topic,
)


def test_reading_topic_round_trips() -> None:
    t = reading_topic("lab", "h-1", Device.BESS)
    assert t == "gridpeer/lab/h-1/bess/reading"
    assert parse_topic(t) == Topic("lab", "h-1", Device.BESS)
    assert str(parse_topic(t)) == t
    assert house_filter("lab", "h1") == "gridpeer/lab/h1/+/reading"


@pytest.mark.parametrize(
    "topic",
    [
        "gridpeer/lab/h1/meter",
        "other/lab/h1/meter/reading",
        "gridpeer/lab/h1/fridge/reading",
        "gridpeer/lab/h1/meter/command",
        "gridpeer/l ab/h1/meter/reading",
        "gridpeer/lab/h1/meter/reading/extra",
        "gridpeer//h1/meter/reading",
        "",
    ],
)
def test_bad_topics_are_refused_with_a_reason(topic: str) -> None:
    with pytest.raises(TopicError, match=r"topic|device|kind"):
        parse_topic(topic)


def test_check_name() -> None:
    assert check_name("h_1-a") == "h_1-a"
    for bad in ("", "a/b", "x" * 33, "h+", "h#"):
        with pytest.raises(ValueError, match="invalid"):
            check_name(bad, "house")
