"""TLS for the community's Mosquitto (``gridpeer broker-config`` with ``[mqtt] tls = true``):
a CA of the community, the broker's certificate signed by it and, on request, a client
certificate per house and for the services, all made with ``cryptography``.

Keys are ECDSA P-256 (OpenSSL, Python's ``ssl`` and the Pico's mbedTLS all verify them).
The CA is made once and kept (``ca.key`` never leaves the directory; clients get
``ca.crt``); the broker's certificate is issued again on every run, so a new host name in
``[mqtt] server_names`` takes effect, and stays valid for every client holding ``ca.crt``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
"""Validity of the community's CA, days."""
LEAF_DAYS = 825
"""Validity of the broker's and the clients' certificates, days (CA/B forum maximum)."""

Key = ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gridpeer"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: Key) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)


def ensure_ca(out: Path, community: str) -> tuple[x509.Certificate, Key]:
    """The community's CA from ``out/ca.crt`` + ``out/ca.key``, made (and written, the key
    mode 600) when absent."""
    cert_path, key_path = out / "ca.crt", out / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = _name(f"gridpeer {community} MQTT CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert, key


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def server_names(host: str, extra: Iterable[str]) -> list[str]:
    """The names the broker's certificate is valid for: ``host`` (unless it is a wildcard
    address like 0.0.0.0), ``extra``, and always ``localhost`` and 127.0.0.1 (services on
    the broker's machine); in order, without repeats."""
    names: list[str] = []
    for n in [host, *extra, "localhost", "127.0.0.1"]:
        n = n.strip()
        if not n or n in names:
            continue
        try:
            if ipaddress.ip_address(n).is_unspecified:
                continue
        except ValueError:
            pass
        names.append(n)
    return names


def issue(
    ca: tuple[x509.Certificate, Key],
    common_name: str,
    *,
    names: Iterable[str] = (),
    server: bool,
) -> tuple[x509.Certificate, Key]:
    """A certificate signed by ``ca``: for a server (``names`` as subject alternative names,
    which clients check against the host they connect to) or for a client."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    alt = [_alt_name(n) for n in names]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def write_server_cert(
    out: Path, ca: tuple[x509.Certificate, Key], names: list[str]
) -> tuple[Path, Path]:
    """Issue the broker's certificate for ``names``; (``out/server.crt``, ``out/server.key``)."""
    cert, key = issue(ca, names[0] if names else "mqtt", names=names, server=True)
    _write_key(out / "server.key", key)
    _write_cert(out / "server.crt", cert)
    return out / "server.crt", out / "server.key"


def ensure_client_cert(out: Path, ca: tuple[x509.Certificate, Key], user: str) -> tuple[Path, Path]:
    """``out/clients/<user>.crt`` and ``.key`` (key mode 600), issued when absent."""
    d = out / "clients"
    d.mkdir(mode=0o700, exist_ok=True)
    cert_path, key_path = d / f"{user}.crt", d / f"{user}.key"
    if not (cert_path.exists() and key_path.exists()):
        cert, key = issue(ca, user, server=False)
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
    return cert_path, key_path
