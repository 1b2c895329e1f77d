# Minimal MQTT 3.1.1 client for MicroPython (Pico W) and CPython.
# QoS 0/1 publish (QoS 1 waits for PUBACK and retransmits with DUP), subscribe,
# persistent sessions (clean_session=False), keepalive pings, TLS verifying the broker
# against the community's CA. umqtt is not pip-installable, and this node needs only this
# much.
import binascii
import socket
import struct
import time

try:
    import select
except ImportError:  # pragma: no cover
    import uselect as select


class MQTTError(Exception):
    pass


def pem_to_der(pem):
    """The first certificate of a PEM text (str or bytes) as DER bytes (MicroPython's
    mbedTLS takes CA certificates as DER); DER input is returned unchanged."""
    if isinstance(pem, bytes):
        if not pem.lstrip().startswith(b"-----"):
            return pem
        pem = pem.decode()
    body = []
    inside = False
    for line in pem.split("\n"):
        line = line.strip()
        if line.startswith("-----BEGIN"):
            inside = True
        elif line.startswith("-----END"):
            break
        elif inside and line:
            body.append(line)
    if not body:
        raise ValueError("no PEM certificate")
    return binascii.a2b_base64("".join(body))


def tls_wrap(sock, ca_der, host):
    """Wrap a connected socket in TLS, verifying the broker's certificate against the CA
    (DER) and its name against ``host`` (a DNS name or IP address in the certificate)."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca_der)  # DER: MicroPython and CPython both take it
    return ctx.wrap_socket(sock, server_hostname=host)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


def packet(kind, body):
    """One MQTT control packet: fixed header byte, remaining length, body."""
    return bytes([kind]) + _varint(len(body)) + body


def connect_packet(client_id, keepalive=30, clean=False, user=None, password=None):
    flags = 0x02 if clean else 0x00
    payload = _str(client_id)
    if user is not None:
        flags |= 0x80
        payload += _str(user)
    if password is not None:
        flags |= 0x40
        payload += _str(password)
    body = _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return packet(0x10, body)


def publish_packet(topic, payload, qos=0, pid=0, dup=False, retain=False):
    kind = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = _str(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return packet(kind, body)


class Client:
    """A blocking MQTT client with a ``poll`` loop; callbacks get (topic, payload)."""

    def __init__(self, client_id, host="127.0.0.1", port=1883, keepalive=30,
                 user=None, password=None, clean=False, ack_timeout_s=5, ca=None):
        # ca: the community's CA certificate (PEM or DER): TLS, broker verified; None: TCP
        self.ca = None if ca is None else pem_to_der(ca)
        self.client_id = client_id
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self.user = user
        self.password = password
        self.clean = clean
        self.ack_timeout_s = ack_timeout_s
        self.sock = None
        self.on_message = None
        self._pid = 0
        self._acked = set()
        self._last_tx = 0
        self._buf = b""

    # -- connection -------------------------------------------------------
    def connect(self):
        self.close()
        self._acked = set()
        addr = socket.getaddrinfo(self.host, self.port)[0][-1]
        sock = socket.socket()
        sock.settimeout(self.ack_timeout_s)  # never block the node on a dead link
        self.sock = sock
        sock.connect(addr)
        if self.ca is not None:  # refuses a broker whose certificate the CA did not sign
            self.sock = tls_wrap(sock, self.ca, self.host)
        self._buf = b""
        self._send(connect_packet(self.client_id, self.keepalive, self.clean,
                                  self.user, self.password))
        kind, body = self._read_packet(self.ack_timeout_s)
        if kind != 0x20 or len(body) != 2:
            raise MQTTError("expected CONNACK")
        if body[1] != 0:
            raise MQTTError("connection refused, code %d" % body[1])
        return bool(body[0] & 1)  # session present

    def close(self):
        """Drop the connection without a DISCONNECT (the link is already gone)."""
        if self.sock is not None:
            try:  # noqa: SIM105 (no contextlib on MicroPython)
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def disconnect(self):
        if self.sock is not None:
            try:
                self._send(b"\xe0\x00")
            finally:
                self.sock.close()
                self.sock = None

    # -- sending ----------------------------------------------------------
    def _send(self, data):
        view = memoryview(data)
        while view:
            n = self.sock.send(view)
            view = view[n:]
        self._last_tx = time.time()

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    def publish(self, topic, payload, qos=1, retain=False):
        """Publish; with QoS 1 block until the broker acknowledges (retry with DUP)."""
        if isinstance(payload, str):
            payload = payload.encode()
        if qos == 0:
            self._send(publish_packet(topic, payload, 0, retain=retain))
            return
        pid = self._next_pid()
        dup = False
        for _ in range(3):
            self._send(publish_packet(topic, payload, 1, pid, dup, retain))
            deadline = time.time() + self.ack_timeout_s
            while time.time() < deadline:
                self.poll(0.2)
                if pid in self._acked:
                    self._acked.discard(pid)
                    return
            dup = True
        raise MQTTError("no PUBACK for packet %d" % pid)

    def subscribe(self, topic, qos=1):
        pid = self._next_pid()
        self._send(packet(0x82, struct.pack("!H", pid) + _str(topic) + bytes([qos])))
        deadline = time.time() + self.ack_timeout_s
        while time.time() < deadline:
            kind, body = self._read_packet(self.ack_timeout_s)
            if kind == 0x90:
                if body[2] == 0x80:
                    raise MQTTError("subscription to %s refused" % topic)
                return
            self._dispatch(kind, body)
        raise MQTTError("no SUBACK")

    def ping_if_due(self):
        if time.time() - self._last_tx >= self.keepalive / 2:
            self._send(b"\xc0\x00")

    # -- receiving --------------------------------------------------------
    def _fill(self, timeout_s):
        pending = getattr(self.sock, "pending", None)  # CPython TLS: already decrypted
        if not (pending and pending()):
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            if not poller.poll(int(timeout_s * 1000)):
                return False
        chunk = self.sock.recv(4096)
        if not chunk:
            raise MQTTError("connection closed by broker")
        self._buf += chunk
        return True

    def _try_parse(self):
        buf = self._buf
        if len(buf) < 2:
            return None
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(buf):
                return None
            b = buf[i]
            n += (b & 0x7F) * mult
            mult <<= 7
            i += 1
            if not b & 0x80:
                break
        if len(buf) < i + n:
            return None
        kind, body = buf[0], buf[i:i + n]
        self._buf = buf[i + n:]
        return kind, body

    def _read_packet(self, timeout_s):
        deadline = time.time() + timeout_s
        while True:
            got = self._try_parse()
            if got is not None:
                return got
            if not self._fill(0.2) and time.time() > deadline:
                raise MQTTError("timed out waiting for the broker")

    def poll(self, timeout_s=0.0):
        """Handle every packet that arrives within ``timeout_s`` seconds."""
        got = self._try_parse()
        if got is None and self._fill(timeout_s):
            got = self._try_parse()
        while got is not None:
            self._dispatch(*got)
            got = self._try_parse()

    def _dispatch(self, kind, body):
        ptype = kind & 0xF0
        if ptype == 0x40:  # PUBACK
            self._acked.add(struct.unpack("!H", body[:2])[0])
        elif ptype == 0x30:  # PUBLISH
            qos = (kind >> 1) & 3
            tlen = struct.unpack("!H", body[:2])[0]
            topic = bytes(body[2:2 + tlen]).decode()
            pos = 2 + tlen
            if qos:
                pid = struct.unpack("!H", body[pos:pos + 2])[0]
                pos += 2
            if self.on_message is not None:
                self.on_message(topic, bytes(body[pos:]))
            if qos == 1:
                self._send(b"\x40\x02" + struct.pack("!H", pid))
