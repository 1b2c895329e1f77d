"""The demo's oracle in a process of its own, as it runs in production (``serve`` or
``gridpeer oracle`` on the community's server, never beside 1,000 simulated houses).

A 1,000-house demo simulates every house, runs its trading and delivery agents and its
sensor nodes in one Python process. With the oracle as a thread among them, each of its
passes (follow the chain, publish the due commands, collect the results, confirm in a
batch) queued for the interpreter lock at every JSON-RPC call, database query and MQTT
publish: p50 50 ms but p99 1.2 s on the quiet two-core machine (``bench/live_scale.py``),
where the target is 250 ms. So on a JSON-RPC node (anvil: the demo beyond 50 houses) the
demo spawns the oracle here; on the in-process chain it stays a thread (that chain lives
in the demo's process).

Start-up is split in two, as for the web process: :meth:`OracleProcess.start` spawns the
child while the demo sets up (imports, the state database, the chain and the broker
connections; the model clock is held), :meth:`OracleProcess.run` hands it the released
model clock and the oracle starts its passes. The child stops on ``stop``, on Ctrl-C or
SIGTERM, and when the demo's process disappears (the pipe closes); it reports its pass
times (wall ms) when asked and when it stops.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from gridpeer.chain.fees import FeePolicy
from gridpeer.core.clock import Clock
from gridpeer.oracle.settings import OracleSettings
from gridpeer.oracle.state import OracleState

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
"""How long the demo waits for the oracle process to be connected (imports take seconds,
longer while the demo simulates its houses)."""


@dataclass(frozen=True)
class OracleSpec:
    """What the oracle process needs (picklable).

    Attributes:
        rpc_url: the chain node's JSON-RPC URL.
        contract: the market contract's address.
        oracle_key: the oracle role's private key, 0x-hex (a dev key in the demo).
        houses: house id per member address.
        host: MQTT broker host; port: its port.
        state_url: the oracle's state database (``sqlite:///…`` or ``postgresql://…``).
        clock: the model clock, held until :meth:`OracleProcess.run` sends the running one.
        config: oracle settings.
        fees: the transaction fee policy of the demo's chain connection.
    """

    rpc_url: str
    contract: str
    oracle_key: str
    houses: dict[str, str]
    host: str
    port: int
    state_url: str
    clock: Clock
    config: OracleSettings
    fees: FeePolicy | None = None


@dataclass(frozen=True)
class PassStats:
    """The oracle's passes so far: each one's wall time, ms, in order."""

    passes_ms: list[float]


def _child(spec: OracleSpec, conn: Connection) -> None:  # pragma: no cover - other process
    """The oracle process: connect, wait for the running clock, pass until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the demo stops us in order
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from eth_account import Account

    from gridpeer.chain.client import MarketClient
    from gridpeer.chain.web3_backend import Web3Backend
    from gridpeer.oracle.chain_adapter import MarketChainView
    from gridpeer.oracle.service import Oracle
    from gridpeer.oracle.state import OracleState

    try:
        market = MarketClient(Web3Backend.rpc(spec.rpc_url, fees=spec.fees), spec.contract)
        view = MarketChainView(market, Account.from_key(spec.oracle_key), spec.houses)
        oracle = Oracle(
            view, OracleState(spec.state_url), spec.host, spec.port, spec.clock, spec.config
        )
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("built", None))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    started = False
    try:
        while not done.is_set():
            if not conn.poll(0.5):
                continue
            kind, body = conn.recv()
            if kind == "run":
                oracle.clock = body
                oracle.start()
                started = True
                conn.send(("running", None))
            elif kind == "stats":
                conn.send(("stats", PassStats(list(oracle.passes_ms))))
            elif kind == "stop":
                break
    except (EOFError, OSError):  # the demo is gone
        pass
    finally:
        if started:
            oracle.stop()
        oracle.state.close()
        with contextlib.suppress(OSError, BrokenPipeError):
            conn.send(("stopped", PassStats(list(oracle.passes_ms))))


class OracleProcess:
    """The parent's handle on the oracle process.

    Args:
        spec: what the child builds its oracle from.
    """

    def __init__(self, spec: OracleSpec) -> None:
        self.spec = spec
        self.final: PassStats | None = None
        """The child's pass times when it stopped."""
        self._state: OracleState | None = None
        self._conn: Connection | None = None
        self._proc: BaseProcess | None = None
        self._lock = threading.Lock()  # one request/answer on the pipe at a time
        self._life = threading.RLock()  # start, restart, stop and stats one at a time
        self._clock: Clock | None = None  # the running clock, once run() was called
        self._stopping = threading.Event()
        self.restarts = 0
        """Times the child died and was started again."""

    @property
    def state(self) -> OracleState:
        """The oracle's state database, read from this process (metrics, probes)."""
        if self._state is None:
            self._state = OracleState(self.spec.state_url)
        return self._state

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Spawn the child and wait until it is connected (its passes wait for :meth:`run`).

        Raises:
            RuntimeError: the child failed or did not connect in ``timeout_s``.
        """
        ctx = mp.get_context("spawn")  # never fork a process with threads
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_child, args=(self.spec, child), name="gridpeer-oracle", daemon=True
        )
        self._proc.start()
        child.close()
        self._conn = parent
        self._expect("built", timeout_s)

    def run(self, clock: Clock) -> None:
        """Start the passes on ``clock`` (the released model clock), and watch the child:
        one that dies (a crash, ``kill -9``) is started again on the same clock; its
        state is in the database, crash-safe, so the new one goes on where it stopped."""
        with self._life:
            self._clock = clock
            self._send(("run", clock))
            self._expect("running", 30.0)
        threading.Thread(target=self._watch, name="oracle-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            with self._life:
                proc = self._proc
                if self._stopping.is_set() or proc is None or proc.is_alive():
                    continue
                log.error("oracle process died (exit code %s): starting it again", proc.exitcode)
                self.restarts += 1
                try:
                    assert self._conn is not None and self._clock is not None
                    self._conn.close()
                    self.start()
                    self._send(("run", self._clock))
                    self._expect("running", 30.0)
                except (RuntimeError, OSError) as exc:  # tried again in a second
                    log.error("oracle process did not start again: %s", exc)

    def stats(self) -> PassStats:
        """The pass times of the running child so far (wall ms each)."""
        with self._life:
            return self._stats()

    def _stats(self) -> PassStats:
        self._send(("stats", None))
        body: PassStats = self._expect("stats", 30.0)
        return body

    def stop(self) -> None:
        """Stop the child (its state stays in the database); keeps its pass times."""
        self._stopping.set()
        with self._life:
            self._stop()

    def _stop(self) -> None:
        if self._proc is None or self._conn is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            self._send(("stop", None))
            self.final = self._expect("stopped", 30.0)
        self._proc.join(30.0)
        if self._proc.is_alive():
            log.warning("oracle process did not stop: killing it")
            self._proc.kill()
            self._proc.join(5.0)
        self._conn.close()
        self._proc = self._conn = None
        if self._state is not None:
            self._state.close()
            self._state = None

    def _send(self, msg: tuple[str, Any]) -> None:
        if self._conn is None:
            raise RuntimeError("the oracle process is not running")
        with self._lock:
            self._conn.send(msg)

    def _expect(self, kind: str, timeout_s: float) -> Any:
        conn, proc = self._conn, self._proc
        assert conn is not None and proc is not None
        if not conn.poll(timeout_s):
            alive = proc.is_alive()
            raise RuntimeError(
                f"the oracle process {'did not answer' if alive else 'died'} "
                f"(waiting for {kind!r}, {timeout_s:g} s; exit code {proc.exitcode})"
            )
        try:
            got, body = conn.recv()
        except EOFError:
            raise RuntimeError(f"the oracle process died (exit code {proc.exitcode})") from None
        if got == "failed":
            raise RuntimeError(f"the oracle process could not start: {body}")
        if got != kind:
            raise RuntimeError(f"the oracle process answered {got!r}, expected {kind!r}")
        return body
