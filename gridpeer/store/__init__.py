"""gridpeer.store layer."""
