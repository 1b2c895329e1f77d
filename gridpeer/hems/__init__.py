"""gridpeer.hems layer."""
