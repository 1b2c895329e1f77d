"""gridpeer.market layer."""
