"""gridpeer.sim layer."""
