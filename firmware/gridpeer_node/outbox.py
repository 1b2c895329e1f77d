# Readings waiting for the broker: a bounded FIFO in RAM that spills to flash segments
# while the node is offline. Oldest first; when full the oldest are dropped and counted.
import os

from gridpeer_node.store import makedirs


class Outbox:
    """FIFO of (topic, payload) strings.

    ram_max: entries kept in RAM; beyond it the oldest ``seg_len`` RAM entries go to a new
    flash segment file ``<flash_dir>/<seq>.q`` (one write per ``seg_len`` readings).
    seg_max: segments kept (the one being sent included); a new one beyond it deletes the
    oldest. Without ``flash_dir``
    the RAM holds ``ram_max`` entries. Everything dropped is counted in ``dropped``.
    Segments survive a reboot and are sent first (at-least-once: a segment being sent when
    the node reboots is sent again from its start).
    """

    def __init__(self, ram_max=64, flash_dir=None, seg_len=64, seg_max=16):
        if ram_max < 1 or (flash_dir and not 1 <= seg_len <= ram_max):
            raise ValueError("need ram_max >= 1 and 1 <= seg_len <= ram_max")
        self.ram_max = ram_max
        self.flash_dir = flash_dir
        self.seg_len = seg_len
        self.seg_max = seg_max
        self.dropped = 0
        self.spilled = 0  # entries written to flash
        self._ram = []
        self._head = []  # entries of the oldest segment, loaded to be sent
        self._head_seq = None
        self._segs = []  # (seq, count) on flash, oldest first
        if flash_dir:
            makedirs(flash_dir)
            for name in sorted(os.listdir(flash_dir)):
                if name.endswith(".q"):
                    self._segs.append((int(name[:-2]), self._count(int(name[:-2]))))

    def __len__(self):
        return len(self._head) + sum(c for _, c in self._segs) + len(self._ram)

    def _seg_file(self, seq):
        return "%s/%08d.q" % (self.flash_dir, seq)

    def _count(self, seq):
        with open(self._seg_file(seq)) as f:
            return sum(1 for _ in f)

    def push(self, topic, payload):
        self._ram.append((topic, payload))
        if len(self._ram) <= self.ram_max:
            return
        if not self.flash_dir:
            self._ram.pop(0)
            self.dropped += 1
            return
        chunk, self._ram = self._ram[:self.seg_len], self._ram[self.seg_len:]
        seq = (self._segs[-1][0] + 1) if self._segs else (
            self._head_seq + 1 if self._head_seq is not None else 0)
        with open(self._seg_file(seq), "w") as f:
            for t, p in chunk:
                f.write(t + "\t" + p + "\n")
        self._segs.append((seq, len(chunk)))
        self.spilled += len(chunk)
        while len(self._segs) + (self._head_seq is not None) > self.seg_max:
            if self._head_seq is not None:  # the oldest is the segment being sent
                os.remove(self._seg_file(self._head_seq))
                self.dropped += len(self._head)
                self._head, self._head_seq = [], None
                continue
            old, n = self._segs.pop(0)
            os.remove(self._seg_file(old))
            self.dropped += n

    def peek(self):
        """The oldest entry (topic, payload), or None."""
        while not self._head and self._segs:
            seq, _ = self._segs.pop(0)
            with open(self._seg_file(seq)) as f:
                self._head = [tuple(line.rstrip("\n").split("\t", 1)) for line in f]
            if self._head:
                self._head_seq = seq
            else:
                os.remove(self._seg_file(seq))
        if self._head:
            return self._head[0]
        return self._ram[0] if self._ram else None

    def pop(self):
        """Remove the entry :meth:`peek` returned (after the broker acknowledged it)."""
        if self._head:
            self._head.pop(0)
            if not self._head:
                os.remove(self._seg_file(self._head_seq))
                self._head_seq = None
        elif self._ram:
            self._ram.pop(0)
