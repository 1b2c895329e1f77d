"""gridpeer.profiles layer."""
