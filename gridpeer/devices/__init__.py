"""gridpeer.devices layer."""
