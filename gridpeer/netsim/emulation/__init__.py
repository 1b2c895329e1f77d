"""The live system over emulated lossy links: Linux network namespaces joined by TUN
devices to a userspace link emulator (loss, delay, jitter, rate per house link), and the
real broker, chain, oracle, ingest, delivery agents and sensor nodes running across it.

See ``docs/netsim.md`` ("The live system over emulated links").
"""
