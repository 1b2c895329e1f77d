# Small records on flash: one file per key, written only when that record changes.
# littlefs (the Pico's file system) replaces a file atomically on rename, so a power cut
# leaves the old or the new record, never half of one.
import json
import os


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def makedirs(path):
    """mkdir -p (MicroPython's os has no makedirs)."""
    part = ""
    for name in path.split("/"):
        part = part + "/" + name if part or path.startswith("/") else name
        if part and not _exists(part):
            os.mkdir(part)


class RecordStore:
    """key -> small JSON dict, one file ``<dir>/<key>.json`` each; ``dir`` None keeps the
    records in RAM only (tests, a node without flash). ``writes`` counts file writes."""

    def __init__(self, path):
        self.path = path
        self.writes = 0
        if path:
            makedirs(path)

    def _file(self, key):
        return "%s/%s.json" % (self.path, key)

    def save(self, key, record):
        self.writes += 1
        if not self.path:
            return
        tmp = self._file(key) + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(record))
        os.rename(tmp, self._file(key))

    def remove(self, key):
        if not self.path:
            return
        try:
            os.remove(self._file(key))
            self.writes += 1
        except OSError:
            pass

    def load(self):
        """Every stored record: {key: dict}. Unreadable files (a torn temp file) are skipped."""
        out = {}
        if not self.path:
            return out
        for name in os.listdir(self.path):
            if not name.endswith(".json"):
                continue
            try:
                with open("%s/%s" % (self.path, name)) as f:
                    out[name[:-5]] = json.loads(f.read())
            except (OSError, ValueError):
                pass
        return out
