"""Edit a community TOML in place, keeping its comments and layout (tomlkit): what the
admin commands write back after they changed something (a key's keystore, the deployed
market's address, a member's address, the schedule).

Every setter returns whether it changed the document, so a command run twice writes
nothing the second time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table
from tomlkit.toml_document import TOMLDocument


class ConfigFile:
    """A community TOML opened for editing (an empty document if the file does not
    exist yet); :meth:`save` writes it back atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc: TOMLDocument = (
            tomlkit.parse(path.read_text()) if path.exists() else tomlkit.document()
        )
        self.changed = False

    # ------------------------------------------------------------------ reading
    def get(self, dotted: str, default: Any = None) -> Any:
        """The value at ``a.b.c`` (plain Python), or ``default``."""
        node: Any = self.doc
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node.unwrap() if hasattr(node, "unwrap") else node

    def account(self, house: str) -> Table | None:
        """The ``[[accounts]]`` table with ``id = house``, or None."""
        aot = self.doc.get("accounts")
        if aot is None:
            return None
        return next((t for t in aot if t.get("id") == house), None)

    # ------------------------------------------------------------------ writing
    def _table(self, dotted: str) -> Any:
        node: Any = self.doc
        for part in dotted.split("."):
            if part not in node:
                node[part] = tomlkit.table()
                self.changed = True
            node = node[part]
        return node

    def set(self, dotted: str, value: Any, comment: str | None = None) -> bool:
        """Set ``a.b.key = value`` (creating the tables); True if it changed anything."""
        *tables, key = dotted.split(".")
        node = self._table(".".join(tables)) if tables else self.doc
        old = node.get(key)
        if old is not None and (old.unwrap() if hasattr(old, "unwrap") else old) == value:
            return False
        item = tomlkit.item(value)
        if comment is not None and old is None:
            item.comment(comment)
        node[key] = item
        self.changed = True
        return True

    def setdefault(self, dotted: str, value: Any, comment: str | None = None) -> bool:
        """Set ``dotted`` only if it is not set yet; True if it was added."""
        if self.get(dotted) is not None:
            return False
        return self.set(dotted, value, comment)

    def remove(self, dotted: str) -> bool:
        """Delete ``a.b.key`` if present; True if it was there."""
        *tables, key = dotted.split(".")
        node: Any = self.doc
        for part in tables:
            if part not in node:
                return False
            node = node[part]
        if key not in node:
            return False
        del node[key]
        self.changed = True
        return True

    def add_account(self, house: str) -> Table:
        """The ``[[accounts]]`` table of ``house``, appended (``id = house``) if missing."""
        found = self.account(house)
        if found is not None:
            return found
        if "accounts" not in self.doc:
            self.doc["accounts"] = tomlkit.aot()
        aot = self.doc["accounts"]
        assert isinstance(aot, AoT)
        table = tomlkit.table()
        table["id"] = house
        aot.append(table)
        self.changed = True
        found = self.account(house)
        assert found is not None
        return found

    def set_in(self, table: Table, key: str, value: Any) -> bool:
        """Set ``key = value`` in ``table`` (e.g. an account); True if it changed."""
        old = table.get(key)
        if old is not None and (old.unwrap() if hasattr(old, "unwrap") else old) == value:
            return False
        table[key] = value
        self.changed = True
        return True

    def remove_in(self, table: Table, key: str) -> bool:
        """Delete ``key`` from ``table``; True if it was there."""
        if key not in table:
            return False
        del table[key]
        self.changed = True
        return True

    def save(self) -> bool:
        """Write the document back if it changed (atomically, keeping the file's mode);
        True if written."""
        if not self.changed:
            return False
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(tomlkit.dumps(self.doc))
        if self.path.exists():
            os.chmod(tmp, self.path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o600)  # it holds the session secret and MQTT passwords
        os.replace(tmp, self.path)
        self.changed = False
        return True
