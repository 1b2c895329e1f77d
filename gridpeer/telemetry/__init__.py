"""gridpeer.telemetry layer."""
