"""gridpeer: solar peer-to-peer energy trading for community microgrids."""

__version__ = "0.1.0"
