"""Encrypted keystore files (Web3 Secret Storage v3, the format geth, clef and MetaMask
export) and their passwords: how real role and member keys are kept. A plaintext private
key is never written anywhere; only the encrypted file and, when asked, a password file
readable by its owner alone."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from gridpeer.core.settings import KeySettings

Prompt = Callable[[str], str]
"""Asks the operator for a password (the prompt text names the key)."""


class KeystoreError(ValueError):
    """A keystore or its password cannot be used; the message says which file and why."""


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 600 (its parent 700 if new); refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def read_password(path: Path) -> str:
    """The password in ``path`` (its first line, without the line end).

    Raises:
        KeystoreError: the file is missing or empty.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeystoreError(f"cannot read the password file {path}: {exc.strerror}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise KeystoreError(f"the password file {path} is empty")
    return password


def ensure_password_file(path: Path) -> bool:
    """Create ``path`` with a random password (32 bytes, URL-safe base64; mode 600) unless
    it exists; returns whether it was created."""
    if path.exists():
        return False
    _write_private(path, secrets.token_urlsafe(32) + "\n")
    return True


def keystore_address(path: Path) -> str:
    """The checksummed address a keystore file holds (public: no password needed).

    Raises:
        KeystoreError: not a readable keystore with an address.
    """
    try:
        data = json.loads(path.read_text())
        return str(to_checksum_address("0x" + str(data["address"]).removeprefix("0x")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeystoreError(f"{path} is not a keystore file with an address: {exc}") from None


def new_keystore(path: Path, password: str, iterations: int | None = None) -> str:
    """Create a fresh random key encrypted with ``password`` (scrypt) into ``path``
    (mode 600); returns its address.

    ``iterations``: the scrypt cost n (eth-account's default 2^18 when None; tests may
    lower it).

    Raises:
        KeystoreError: ``path`` exists already (a key is never overwritten).
    """
    if path.exists():
        raise KeystoreError(f"{path} exists already; a keystore is never overwritten")
    acct: LocalAccount = Account.create()
    data = Account.encrypt(acct.key, password, kdf="scrypt", iterations=iterations)
    _write_private(path, json.dumps(data))
    return str(acct.address)


def unlock(path: Path, password: str) -> LocalAccount:
    """The account in keystore ``path``, decrypted with ``password``.

    Raises:
        KeystoreError: unreadable file or wrong password.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read the keystore {path}: {exc}") from None
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        raise KeystoreError(f"cannot decrypt {path}: {exc} (wrong password?)") from None
    acct: LocalAccount = Account.from_key(key)
    return acct


def unlock_key(ref: KeySettings, name: str, prompt: Prompt | None = None) -> LocalAccount:
    """Decrypt ``[keys.<name>]`` with its password: ``GRIDPEER_KEYS__<NAME>__PASSWORD``,
    else its ``password_file``, else ``prompt``.

    Raises:
        KeystoreError: no password source, unreadable file or wrong password.
    """
    if ref.password is not None:
        password = ref.password.get_secret_value()
    elif ref.password_file is not None:
        password = read_password(ref.password_file)
    elif prompt is not None:
        password = prompt(f"password for key {name}")
    else:
        raise KeystoreError(
            f"[keys.{name}] has no password_file and GRIDPEER_KEYS__{name.upper()}__PASSWORD "
            "is not set"
        )
    return unlock(ref.keystore, password)
