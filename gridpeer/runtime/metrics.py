"""Prometheus metrics of a running community (``GET /metrics`` on the web app), with
``prometheus-client``.

Read at scrape time from the running parts, nothing added to the hot paths:

* readings: ``gridpeer_readings_received_total``, ``…_accepted_total``,
  ``…_stored_total``, ``…_duplicates_total``, ``…_rejected_total{reason}`` (the reasons of
  :class:`gridpeer.telemetry.validate.RejectReason`, e.g. ``implausible_time``),
  ``gridpeer_store_write_errors_total`` — the home agents' ingest (``serve``) or the
  simulated houses' agents (``demo``);
* ``gridpeer_mqtt_connected`` (1/0) of the ingest's broker session;
* deliveries: ``gridpeer_deliveries{state}`` — the oracle's trades by state (``seen``,
  ``commanded``, ``confirming``, ``confirmed``, ``disputed``, ``expired``, …), and
  ``gridpeer_oracle_results_rejected_total``;
* chain: ``gridpeer_chain_head_block`` (the newest block the web's indexer read),
  ``gridpeer_oracle_lag_blocks`` (chain head at the oracle's last look minus the last
  block it processed; ``confirmations`` is its floor), ``gridpeer_tx_pending``
  (transactions sent by this process and not yet mined).

A part that is not running, or whose database is down at scrape time, leaves its metrics
out (a scrape never fails; ``/readyz`` says what is down). Counts are since the process
started (Prometheus counters reset on restart).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gridpeer.telemetry.validate import RejectReason

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gridpeer.hems.metrics import AgentMetrics
    from gridpeer.runtime.composition import Parts

log = logging.getLogger(__name__)


class PartsCollector(Collector):
    """The metrics of ``parts`` (see the module), collected on each scrape."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        yield from self._readings()
        yield from self._oracle()
        yield from self._chain()

    def _agent_totals(self) -> AgentMetrics | None:
        p = self.parts
        if p.ingest is not None:
            return p.ingest.totals()
        if p.monitoring is not None:
            from gridpeer.hems.metrics import AgentMetrics

            return sum(p.monitoring.metrics().values(), AgentMetrics("*"))
        return None

    def _readings(self) -> Iterator[Metric]:
        t = self._agent_totals()
        if t is None:
            return
        for name, value, doc in (
            ("received", t.received, "Telemetry messages received from the broker."),
            ("accepted", t.accepted, "Telemetry messages that passed validation."),
            ("stored", t.stored, "Readings newly written to the store."),
            ("duplicates", t.duplicates, "Readings the store already had (redeliveries)."),
        ):
            yield CounterMetricFamily(f"gridpeer_readings_{name}", doc, value=value)
        rejected = CounterMetricFamily(
            "gridpeer_readings_rejected",
            "Telemetry messages rejected, by reason.",
            labels=["reason"],
        )
        for reason in RejectReason:
            rejected.add_metric([reason.value], t.rejected.get(reason.value, 0))
        yield rejected
        yield CounterMetricFamily(
            "gridpeer_store_write_errors", "Failed store writes (retried).", value=t.write_errors
        )
        ingest = self.parts.ingest
        if ingest is not None:
            yield GaugeMetricFamily(
                "gridpeer_mqtt_connected",
                "1 while the ingest is connected to the MQTT broker.",
                value=1 if ingest.mqtt.connected.is_set() else 0,
            )

    def _oracle(self) -> Iterator[Metric]:
        oracle: Any = self.parts.oracle
        if oracle is None:
            delivery: Any = self.parts.delivery
            oracle = getattr(delivery, "oracle", None)
        if oracle is None:
            return
        from gridpeer.oracle.state import TradeState

        rejected = getattr(oracle, "rejected", None)  # None: the oracle's own process knows
        if rejected is not None:
            yield CounterMetricFamily(
                "gridpeer_oracle_results_rejected",
                "Delivery results the oracle rejected (malformed, or from another house's topic).",
                value=rejected,
            )
        try:
            counts = oracle.state.counts()
            last = oracle.state.last_block()
        except Exception as exc:  # the oracle's database is down: leave them out
            log.debug("metrics: oracle state unavailable: %s", exc)
            return
        deliveries = GaugeMetricFamily(
            "gridpeer_deliveries", "The oracle's trades by delivery state.", labels=["state"]
        )
        for state in TradeState:
            deliveries.add_metric([state.value], counts.get(state, 0))
        yield deliveries
        if getattr(oracle, "head_seen", -1) >= 0 and last >= 0:
            yield GaugeMetricFamily(
                "gridpeer_oracle_lag_blocks",
                "Chain head at the oracle's last look minus the last block it processed.",
                value=max(0, oracle.head_seen - last),
            )

    def _chain(self) -> Iterator[Metric]:
        hub = self.parts.hub
        backends: list[Any] = []
        if hub is not None:
            if hub.cursor > 0:
                yield GaugeMetricFamily(
                    "gridpeer_chain_head_block",
                    "Newest block the web's chain indexer has read.",
                    value=hub.cursor - 1,
                )
            backends.append(hub.market.backend)
        oracle: Any = self.parts.oracle
        if oracle is not None:
            market = getattr(oracle.chain, "market", None)
            if market is not None:
                backends.append(market.backend)
        pending = [getattr(b, "in_flight", None) for b in {id(b): b for b in backends}.values()]
        if any(p is not None for p in pending):
            yield GaugeMetricFamily(
                "gridpeer_tx_pending",
                "Transactions this process sent that are not mined yet.",
                value=sum(p for p in pending if p is not None),
            )


def registry_for(parts: Parts) -> CollectorRegistry:
    """A registry of its own (never the process-global one) holding ``parts``' metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PartsCollector(parts))
    return registry


@contextlib.asynccontextmanager
async def metrics_endpoint(parts: Parts) -> AsyncIterator[None]:
    """This process's metrics over HTTP on a free loopback port (``parts.metrics_url``),
    for a web app in another process to relay (the demo's)."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry_for(parts))
    parts.metrics_url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        yield
    finally:
        parts.metrics_url = None
        server.shutdown()
        server.server_close()
        thread.join(5)


def _relay(url: str) -> bytes:
    """The metrics text from ``url`` (another process's :func:`metrics_endpoint`).

    Raises:
        OSError: it did not answer within 5 s.
    """
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as answer:
        body: bytes = answer.read()
        return body


def add_metrics_route(app: FastAPI, parts: Parts) -> None:
    """``GET /metrics`` on ``app``: the Prometheus text format of ``parts``' metrics, or
    those ``parts.metrics_url`` serves (the demo process's, for its web process) plus this
    process's (left out of the OpenAPI document: it is for the monitoring system, not API
    clients)."""
    from fastapi import Response

    registry = registry_for(parts)

    def metrics() -> Response:  # sync: FastAPI runs it in a worker thread (may query the DB)
        body = generate_latest(registry)
        if parts.metrics_url is not None:
            try:
                relayed = _relay(parts.metrics_url)
            except OSError as exc:
                log.warning("metrics of %s unavailable: %s", parts.metrics_url, exc)
                return Response(body, status_code=503, media_type=CONTENT_TYPE_LATEST)
            body = relayed + _without(body, relayed)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)


def _without(local: bytes, relayed: bytes) -> bytes:
    """The families of ``local`` that ``relayed`` does not already have (the web process's
    own chain head next to the demo process's readings and deliveries)."""
    have = {line.split()[2] for line in relayed.decode().splitlines() if line.startswith("# TYPE ")}
    out: list[str] = []
    keep = True
    for line in local.decode().splitlines():
        if line.startswith("# HELP "):
            keep = line.split()[2] not in have
        if keep:
            out.append(line)
    return ("\n".join(out) + "\n").encode() if out else b""
