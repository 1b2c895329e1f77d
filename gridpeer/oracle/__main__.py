"""Run the oracle as its own process against a JSON-RPC node and an MQTT broker::

    python -m gridpeer.oracle --rpc http://127.0.0.1:8545 --contract 0x… \\
        --house h1=0x… --house h2=0x… --state sqlite:///oracle.db

The same as ``gridpeer oracle`` (:func:`gridpeer.oracle.commands.oracle`). The oracle
key is read from the environment variable ``GRIDPEER_ORACLE_KEY`` (0x-hex), never from the
command line; ``--dev-keys`` uses the public dev keys (dev chains only) for the oracle and
for houses ``h1..hN``.
"""

from gridpeer.oracle.commands import main

if __name__ == "__main__":
    main()
