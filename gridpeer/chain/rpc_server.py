"""The embedded chain as an Ethereum JSON-RPC node on 127.0.0.1.

The embedded chain (web3's ``EthereumTesterProvider`` over py-evm) lives inside one
Python process. :class:`RpcServer` lets other processes reach it like any dev node — the
demo's web app (which runs in its own process, see :mod:`gridpeer.runtime.web_process`), a
browser wallet such as MetaMask, ``cast`` or a script using ``Web3.HTTPProvider``.

Wire format as real nodes speak it: integers are hex quantities (``"0x1a"``), byte
strings are ``0x`` hex, a reverted call answers error code 3 with the revert data.
Besides the ``eth_*``/``net_*``/``web3_*`` methods of eth-tester, it answers
``evm_setNextBlockTimestamp`` and ``anvil_setBalance`` as anvil does.

Every request runs under ``lock``: the same lock that in-process users of the chain hold
(the provider is not thread-safe).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gridpeer.chain.fairlock import FairLock
from gridpeer.chain.web3_backend import Web3Backend, revert_data

log = logging.getLogger(__name__)

JSON = Any

_DATA_KEYS = {"logsBloom": 256}
"""Result fields eth-tester gives as integers that are byte strings on the wire (bytes)."""


def to_wire(value: JSON, key: str | None = None) -> JSON:
    """eth-tester's result (ints, bytes, nested dicts/lists) → JSON-RPC wire values.

    Integers become hex quantities, bytes become ``0x`` hex; ``logsBloom`` (an integer in
    eth-tester) becomes its 256-byte hex string."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if key in _DATA_KEYS:
            return "0x" + value.to_bytes(_DATA_KEYS[key], "big").hex()
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {k: to_wire(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


class RpcServer:
    """JSON-RPC over HTTP for an embedded :class:`Web3Backend` (see module docs).

    Args:
        backend: the embedded backend to serve.
        lock: held around every request (share it with in-process users).
        host: address to listen on (loopback).
        port: 0 = a free port.
    """

    def __init__(
        self,
        backend: Web3Backend,
        lock: FairLock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if getattr(backend, "kind", None) != "embedded":
            raise ValueError("only the embedded chain needs serving; a node already speaks RPC")
        self.backend = backend
        self.lock = lock or FairLock()
        from web3.middleware import combine_middleware

        # The provider's own middleware only (tester ⇄ RPC field names and formats), not
        # the Web3 object's result formatters (AttributeDict, HexBytes): wire values out.
        provider = backend.w3.provider
        self._request = combine_middleware(
            middleware=tuple(provider._middleware),  # type: ignore[attr-defined]
            w3=backend.w3,
            provider_request_fn=provider.make_request,
        )
        self._extra: dict[str, Callable[[list[Any]], JSON]] = {
            "evm_setNextBlockTimestamp": self._set_next_timestamp,
            "anvil_setBalance": self._set_balance,
        }
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RpcServer:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="chain-rpc", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> RpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- dispatch
    def handle(self, request: JSON) -> JSON:
        """Answer one JSON-RPC request object (or a batch list)."""
        if isinstance(request, list):
            return [self.handle(r) for r in request]
        rid = request.get("id") if isinstance(request, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(rid, -32600, "invalid request")
        method: str = request["method"]
        params = request.get("params") or []
        try:
            with self.lock:
                if method in self._extra:
                    return {"jsonrpc": "2.0", "id": rid, "result": self._extra[method](params)}
                response = self._request(method, params)
        except Exception as exc:  # a failed call is an answer, never a crash
            data = revert_data(exc)
            if data is not None:
                return _error(rid, 3, "execution reverted", "0x" + data.hex())
            return _error(rid, -32000, str(exc) or type(exc).__name__)
        if "error" in response:
            err = response["error"]
            return _error(rid, int(err.get("code", -32000)), str(err.get("message", err)))
        return {"jsonrpc": "2.0", "id": rid, "result": to_wire(response.get("result"))}

    def _set_next_timestamp(self, params: list[Any]) -> None:
        ts = params[0]
        self.backend.set_time(int(ts, 16) if isinstance(ts, str) else int(ts))

    def _set_balance(self, params: list[Any]) -> None:
        address, wei = params[0], params[1]
        target = int(wei, 16) if isinstance(wei, str) else int(wei)
        have = self.backend.balance(address)
        if target < have:
            raise ValueError("the embedded chain can only raise a balance")
        if target > have:
            self.backend.fund(address, target - have)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def do_POST(self) -> None:  # http.server calls it by this name
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length))
                except ValueError:
                    self._send(_error(None, -32700, "parse error"))
                    return
                self._send(server.handle(request))

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")

            def _send(self, body: JSON) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("rpc: " + format, *args)

        return Handler


def _error(rid: JSON, code: int, message: str, data: str | None = None) -> JSON:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}
