"""gridpeer.oracle layer."""
