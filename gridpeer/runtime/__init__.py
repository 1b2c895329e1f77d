"""The composition root: builds ``gridpeer demo`` and ``gridpeer serve`` from the layers."""
