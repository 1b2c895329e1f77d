"""docs/deploy.md, followed to the letter: every ``sh`` block of the page runs, in order,
in an empty directory, against real PostgreSQL (fixture), anvil and Mosquitto (started by
the page's own commands); then two members sign in through Chromium with their wallets
(an injected EIP-1193 provider holding the keys the walkthrough created), one offers,
the other buys, the delivery agents meter it and the oracle settles it; the page's last
block (``gridpeer admin state``) then shows the settled trade. So the walkthrough cannot
rot."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.keystore import read_password, unlock
from tests.services.ports import free_port
from tests.web.wallet import InjectedWallet

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.anvil,
    pytest.mark.postgres,
    pytest.mark.mosquitto,
]
DOC = Path(__file__).parents[2] / "docs" / "deploy.md"
TRADE_HEADING = "## 11. A first trade"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", "/work/main/.venv")) / "bin"


def sh_blocks(text: str) -> list[str]:
    """The ``sh`` code blocks of a Markdown text, in order."""
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments and blanks
    dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]


def test_the_doc_has_the_walkthrough() -> None:
    text = DOC.read_text()
    before, _, after = text.partition(TRADE_HEADING)
    assert after, f"docs/deploy.md lost its heading {TRADE_HEADING!r}"
    setup = [c for b in sh_blocks(before) for c in commands(b)]
    assert any(c.startswith("gridpeer admin deploy") for c in setup)
    assert any(c.startswith("gridpeer serve") and c.endswith("&") for c in setup)
    assert [c for b in sh_blocks(after) for c in commands(b)] == ["gridpeer admin state"]


class Shell:
    """Runs the page's commands in ``cwd`` with the walkthrough's variables; keeps the
    background ones (``… &``) until :meth:`stop`."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.background: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def run(self, command: str) -> str:
        if command.endswith("&"):
            log = self.cwd / f"bg-{len(self.background)}.log"
            proc = subprocess.Popen(
                ["bash", "-c", f"exec {command.removesuffix('&').strip()}"],
                cwd=self.cwd,
                env=self.env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.background.append((command, proc, log))
            time.sleep(0.5)
            assert proc.poll() is None, f"{command} exited: {log.read_text()}"
            return ""
        out = subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, f"$ {command}\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def logs(self) -> str:
        return "\n".join(f"--- {c}\n{log.read_text()[-3000:]}" for c, _, log in self.background)

    def check_alive(self) -> None:
        dead = [c for c, p, _ in self.background if p.poll() is not None]
        assert not dead, f"exited: {dead}\n{self.logs()}"

    def stop(self) -> None:
        for _, proc, _ in reversed(self.background):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, _ in self.background:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture
def anvil() -> Iterator[str]:
    with AnvilNode() as node:
        yield node.url


@pytest.fixture
def shell(postgres_url: str, anvil: str) -> Iterator[Shell]:
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "DB_URL": postgres_url,
        "RPC_URL": anvil,
        "MQTT_PORT": str(free_port()),
        "WEB_PORT": str(free_port()),
    }
    # not under pytest's 0700 tmp dirs: Mosquitto, started as root, runs as its own user
    root = Path(tempfile.mkdtemp(prefix="gp-walkthrough-"))
    root.chmod(0o755)
    work = root / "villa"
    work.mkdir(mode=0o755)
    s = Shell(work, env)
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)


def _wait(cond: Any, timeout: float, what: str, shell: Shell) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shell.check_alive()
        try:
            if cond():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout} s\n{shell.logs()}")


def _member_page(chromium: Any, base: str, wallet: InjectedWallet) -> Any:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    wallet.install(context)
    page = context.new_page()
    page.goto(base + "/market")
    assert page.locator("#signer option[value^='demo:']").count() == 0  # no demo picker
    page.wait_for_function("Number(document.body.dataset.refreshes || 0) >= 1", timeout=30_000)
    page.click("#connect")
    try:
        page.wait_for_function(
            "document.querySelector('[data-testid=msg]').textContent.startsWith('Signed in as')",
            timeout=60_000,
        )
    except Exception as exc:
        raise AssertionError(f"sign-in: {page.inner_text('[data-testid=msg]')!r}") from exc
    return page


@pytest.mark.timeout(1200)  # a loaded machine: sign-ins, a one-minute slot, settlement
def test_walkthrough_to_a_settled_trade(shell: Shell, chromium: Any, anvil: str) -> None:
    before, _, after = DOC.read_text().partition(TRADE_HEADING)
    for block in sh_blocks(before):
        for command in commands(block):
            shell.run(command)
    work = shell.cwd
    assert "PRIVATE" not in (work / "community.toml").read_text().upper()

    base = f"http://127.0.0.1:{shell.env['WEB_PORT']}"
    _wait(lambda: httpx.get(base + "/readyz", timeout=5).status_code == 200, 120, "serve", shell)
    _wait(lambda: shell.logs().count("ready") >= 2, 60, "both delivery agents", shell)

    def member(name: str) -> InjectedWallet:
        password = read_password(work / "secrets" / f"{name}.pass")
        return InjectedWallet(anvil, unlock(work / "keys" / f"{name}.json", password))

    seller_wallet, buyer_wallet = member("member-h1"), member("member-h2")
    seller = _member_page(chromium, base, seller_wallet)
    buyer = _member_page(chromium, base, buyer_wallet)
    assert buyer.inner_text("[data-testid=my-house]") == "House 2"
    assert seller.inner_text("[data-testid=my-house]") == "House 1"
    session = buyer.evaluate("fetch('/api/auth/session').then(r => r.json())")
    assert session["house"] == "h2"

    # h1 offers 30 Wh (a simulated 2 kW meters 33 Wh a minute) for a one-minute slot
    # starting at least 90 s from now
    seller.wait_for_selector("[data-testid=sell-window] option[value*='-']", state="attached")
    values = seller.eval_on_selector_all(
        "[data-testid=sell-window] option", "os => os.map(o => o.value)"
    )
    now = time.time()
    window = next(v for v in values if int(v.split("-")[0]) >= now + 90)
    seller.select_option("[data-testid=sell-window]", window)
    seller.fill("[data-testid=sell-wh]", "30")
    seller.fill("[data-testid=sell-price]", "150")
    seller.click("[data-testid=sell-submit]")
    seller.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.startsWith('Sent from')",
        timeout=30_000,
    )

    # h2 buys all of it
    row = buyer.wait_for_selector("#offers tr[data-order]", timeout=30_000)
    offer_id = row.get_attribute("data-order")
    buyer.fill(f"#amt-{offer_id}", "30")
    buyer.click(f"[data-testid=buy-{offer_id}]")
    buyer.wait_for_selector("#trades tr[data-trade]", timeout=30_000)

    # the slot comes, both agents meter it, the oracle settles it
    buyer.wait_for_selector("#trades tr[data-phase='settled']", timeout=600_000)
    trades = httpx.get(
        base + "/api/market/trades", params={"account": buyer_wallet.key.address}, timeout=10
    ).json()
    t = trades[0]
    assert t["delivered_wh"] == 30 and t["seller_house"] == "h1" and t["buyer_house"] == "h2"
    assert int(t["seller_paid"]) == 30 * 150 * 10**12 // 1000

    # every page shows the member's own house; the statement shows the sale, as CSV too
    seller.goto(base + "/")
    assert seller.inner_text("[data-testid=member-house]", timeout=30_000) == "House 1"
    seller.click("[data-testid=nav-statement]")
    summary = seller.inner_text("[data-testid=statement-summary]", timeout=30_000)
    assert "energy sold peer to peer\t30 wh" in summary.lower(), summary
    with seller.expect_download() as download:
        seller.click("[data-testid=statement-csv]")
    rows = Path(download.value.path()).read_text().splitlines()
    assert "p2p_sold_wh,30" in rows and any(",sold,h2,30,30," in r for r in rows), rows
    seller.context.close()
    buyer.context.close()

    # the page's last step: the administrator's view
    out = "".join(shell.run(c) for b in sh_blocks(after) for c in commands(b))
    assert "open trades (0; 1 settled or reclaimed)" in out, out
    assert "house h1" in out and "house h2" in out
