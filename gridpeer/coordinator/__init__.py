"""The market coordinator: collects members' signed orders, clears them (centralized: at
gate closure with a market mechanism; hybrid: continuously), settles the batch on chain."""
