"""``gridpeer admin disputes`` against a real anvil and a real oracle: the oracle disputes
trades whose meters disagree, ``list`` shows them with both reported Wh and the oracle's
reason, ``resolve`` pays the seller for the delivered Wh and refunds the rest (credits on
chain), a second run and a dry run change nothing, bad requests exit 2 with a message, the
contract takes a resolution after the grace too, and the oracle marks a resolved dispute
``resolved``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from gridpeer.chain.accounts import dev_houses
from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.client import MarketClient
from gridpeer.chain.errors import Disputed
from gridpeer.chain.keystore import new_keystore
from gridpeer.chain.types import cost_wei
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.cli import app
from gridpeer.core.clock import Clock
from gridpeer.core.settings import Settings, load_settings
from gridpeer.oracle.chain_adapter import MarketChainView
from gridpeer.oracle.service import Oracle
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.runtime.admin import signer
from gridpeer.runtime.serve import oracle_settings
from gridpeer.telemetry.delivery import DeliveryResult, Direction

pytestmark = pytest.mark.anvil

PRICE = 10**15  # wei/kWh: 1,000 CLP/kWh at the default 10^12 wei per CLP
WH = 500
TZ = "America/Santiago"


class AckLink:
    """Stands in for the oracle's MQTT client: every publish acknowledged."""

    def publish(
        self, topic: str, payload: bytes | str, retain: bool = False, timeout: float = 5.0
    ) -> bool:
        return True


@dataclass
class Community:
    dir: Path
    market: MarketClient
    oracle: Oracle
    state: OracleState
    disputed: tuple[int, int]  # h1 -> h2, meters 500 / 350 Wh
    undisputed: int  # h1 -> h3, no results yet

    @property
    def config(self) -> Path:
        return self.dir / "community.toml"

    def settings(self) -> Settings:
        return load_settings(self.config)


def run(c: Community, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["admin", *args, "-c", str(c.config)])
    assert result.exit_code == code, result.output
    return result.output


def _result(trade_id: int, house: str, seller: bool, wh: int) -> DeliveryResult:
    return DeliveryResult(
        trade_id=trade_id,
        house=house,
        direction=Direction.OUT if seller else Direction.IN,
        measured_wh=wh,
        target_wh=WH,
        closed_at=None,
        opened_at=datetime.now(UTC),
        reason="window_end",
    )


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    """A community set up with ``gridpeer admin`` on its own anvil (the last test moves
    its time), three trades, and an oracle that disputed two of them."""
    tmp = tmp_path_factory.mktemp("disputes")
    with AnvilNode() as node:
        cfg = tmp / "community.toml"

        def admin(*args: str) -> None:
            result = CliRunner().invoke(app, ["admin", *args, "-c", str(cfg)])
            assert result.exit_code == 0, result.output

        store = f"sqlite:///{tmp}/store.db"
        admin("init", "--rpc-url", node.url, "--timezone", TZ, "--store-url", store)
        for name in ("admin", "oracle", "coordinator"):  # cheap keystores: a fast test
            (tmp / f"{name}.pass").write_text(f"pw-{name}\n")
            new_keystore(tmp / "keys" / f"{name}.json", f"pw-{name}", iterations=2**10)
            admin("keys", "new", name, "--password-file", str(tmp / f"{name}.pass"))
        admin("fund", "admin", "oracle", "coordinator", "--ether", "5")
        admin("deploy", "--grace", "1h")
        admin("schedule", "set", "--open", "--tz-minutes", "-180")
        houses = dev_houses(3)
        for i, h in enumerate(houses, 1):
            admin("members", "add", f"h{i}", h.address)
        admin("fund", "h1", "h2", "h3", "--ether", "2")

        settings = load_settings(cfg)
        assert settings.chain.contract_address is not None
        market = MarketClient(Web3Backend.rpc(node.url), settings.chain.contract_address)
        h1, h2, h3 = houses
        start = market.now() + 120
        ids = [
            market.buy(buyer, market.post_offer(h1, WH, PRICE, start, start + 900), WH, PRICE)
            for buyer in (h2, h2, h3)
        ]
        view = MarketChainView(
            market,
            signer(settings, "oracle"),
            {h.address: f"h{i}" for i, h in enumerate(houses, 1)},
        )
        config = oracle_settings(settings, market.backend.chain_id).model_copy(
            update={"lead_s": 600.0, "resend_s": 0.0}
        )
        state = OracleState(settings.store_url or "")
        oracle = Oracle(view, state, "127.0.0.1", 1, Clock(start=datetime.now(UTC)), config)
        oracle.link = AckLink()  # type: ignore[assignment]
        assert oracle.run_once()  # follows the trades and commands them
        for tid in ids[:2]:  # the meters disagree beyond the tolerance
            oracle._results.put(_result(tid, "h1", True, WH))
            oracle._results.put(_result(tid, "h2", False, 350))
        assert oracle.run_once()
        for tid in ids[:2]:
            assert market.trade(tid).disputed  # type: ignore[union-attr]
            assert state.trade(tid).state is TradeState.DISPUTED  # type: ignore[union-attr]
        try:
            yield Community(tmp, market, oracle, state, (ids[0], ids[1]), ids[2])
        finally:
            state.close()


def test_list_shows_each_open_dispute_with_both_meters(community: Community) -> None:
    c = community
    out = run(c, "disputes", "list")
    assert f"open disputes (2; local time {TZ}):" in out
    tr = c.market.trade(c.disputed[0])
    assert tr is not None
    local = datetime.fromtimestamp(tr.start, UTC).astimezone(ZoneInfo(TZ))
    for tid in c.disputed:
        assert (
            f"trade {tid}: seller h1 -> buyer h2, {WH} Wh, window {local:%Y-%m-%d %H:%M:%S}-" in out
        )
    assert out.count("reported: seller out 500 Wh, buyer in 350 Wh") == 2
    assert out.count("oracle: meters disagree (500 / 350 Wh)") == 2
    assert (
        f"price {PRICE} wei/kWh (1,000 CLP/kWh), escrow {cost_wei(WH, PRICE)} wei (500 CLP)" in out
    )
    reclaim = datetime.fromtimestamp(tr.reclaimable_at, UTC).astimezone(ZoneInfo(TZ))
    assert f"barred while disputed (it would open at {reclaim:%Y-%m-%d %H:%M:%S})" in out
    assert f"trade {c.undisputed}:" not in out


def test_resolve_pays_the_seller_and_refunds_the_buyer_once(community: Community) -> None:
    c = community
    tid = c.disputed[0]
    h1, h2, _ = (a.address for a in dev_houses(3))
    before = (c.market.credit(h1), c.market.credit(h2))
    block = c.market.backend.block_number()

    out = run(c, "disputes", "resolve", str(tid), "--delivered-wh", "420", "--dry-run")
    paid, refund = 420 * PRICE // 1000, cost_wei(WH, PRICE) - 420 * PRICE // 1000
    assert f"would resolve the dispute of trade {tid} for 420 of 500 Wh" in out
    assert f"seller h1 paid {paid} wei (420 CLP), buyer h2 refunded {refund} wei (80 CLP)" in out
    assert "dry run: nothing changed" in out
    assert c.market.backend.block_number() == block
    assert c.market.trade(tid).disputed  # type: ignore[union-attr]

    text = c.config.read_text()
    out = run(
        c, "disputes", "resolve", str(tid), "--delivered-wh", "420", "--source", "feeder meter"
    )
    assert f"resolved the dispute of trade {tid} for 420 of 500 Wh (from feeder meter)" in out
    assert f"seller h1 paid {paid} wei (420 CLP), buyer h2 refunded {refund} wei (80 CLP)" in out
    assert c.market.trade(tid) is None
    assert (c.market.credit(h1), c.market.credit(h2)) == (before[0] + paid, before[1] + refund)
    assert c.config.read_text() == text  # nothing to write in the config

    block = c.market.backend.block_number()
    out = run(c, "disputes", "resolve", str(tid), "--delivered-wh", "100")
    assert f"unchanged: trade {tid} is already settled: dispute resolved by the admin" in out
    assert f"for 420 Wh: seller paid {paid} wei" in out
    assert c.market.backend.block_number() == block
    assert (c.market.credit(h1), c.market.credit(h2)) == (before[0] + paid, before[1] + refund)

    # the oracle takes it in stride: the disputed trade is resolved, nothing sent
    assert c.oracle.run_once()
    assert c.state.trade(tid).state is TradeState.RESOLVED  # type: ignore[union-attr]
    assert c.market.backend.block_number() == block
    out = run(c, "disputes", "list")
    assert "open disputes (1;" in out and f"trade {tid}:" not in out


def test_bad_requests_exit_2_and_change_nothing(community: Community) -> None:
    c = community
    block = c.market.backend.block_number()
    tid = c.disputed[1]
    out = run(c, "disputes", "resolve", str(tid), "--delivered-wh", "501", code=2)
    assert f"--delivered-wh 501: trade {tid} traded 500 Wh, so 0 to 500 Wh" in out
    out = run(c, "disputes", "resolve", str(tid), "--delivered-wh", "-1", code=2)
    assert "0 to 500 Wh" in out
    out = run(c, "disputes", "resolve", str(999 << 2 | 1), "--delivered-wh", "1", code=2)
    assert f"no trade {999 << 2 | 1} on the market" in out
    out = run(c, "disputes", "resolve", str(c.undisputed), "--delivered-wh", "1", code=2)
    assert f"trade {c.undisputed} (500 Wh, window " in out and f"{TZ}) is not disputed" in out
    assert c.market.backend.block_number() == block
    assert c.market.trade(tid).disputed  # type: ignore[union-attr]


def test_a_dispute_bars_the_reclaim_and_is_resolved_after_the_grace(
    community: Community,
) -> None:
    c = community
    tid = c.disputed[1]
    tr = c.market.trade(tid)
    assert tr is not None
    c.market.set_time(tr.reclaimable_at + 60)
    h2 = dev_houses(2)[1]
    with pytest.raises(Disputed):
        c.market.reclaim(h2, tid)
    out = run(c, "disputes", "list")
    assert "barred while disputed (its grace ended; it would have opened at" in out
    out = run(c, "disputes", "resolve", str(tid), "--delivered-wh", "0")
    assert f"resolved the dispute of trade {tid} for 0 of 500 Wh" in out
    assert f"seller h1 paid 0 wei (0 CLP), buyer h2 refunded {cost_wei(WH, PRICE)} wei" in out
    assert c.market.trade(tid) is None
    assert "open disputes (0;" in run(c, "disputes", "list")

    # a trade the buyer reclaimed is settled too: said, nothing sent, exit 0
    c.market.reclaim(dev_houses(3)[2], c.undisputed)
    block = c.market.backend.block_number()
    out = run(c, "disputes", "resolve", str(c.undisputed), "--delivered-wh", "1")
    assert f"unchanged: trade {c.undisputed} is already settled: reclaimed by the buyer" in out
    assert c.market.backend.block_number() == block


@pytest.mark.parametrize("command", [["disputes", "list"], ["disputes", "resolve"]])
def test_the_subcommands_have_help_and_a_dry_run(command: list[str]) -> None:
    result = CliRunner().invoke(app, ["admin", *command, "--help"])
    assert result.exit_code == 0 and "--dry-run" in result.output
