"""gridpeer.netsim layer."""
