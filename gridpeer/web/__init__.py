"""gridpeer.web layer."""
