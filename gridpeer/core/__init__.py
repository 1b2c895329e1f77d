"""What every layer shares and none owns: the clock, the MQTT client, settings."""
