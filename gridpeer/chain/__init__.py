"""gridpeer.chain layer."""
