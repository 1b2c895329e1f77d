"""Optional parts of gridpeer and the pip extras that install them.

The core install (``pip install gridpeer``) runs ``gridpeer serve`` and the house-side
commands against real parts. The rest is optional:

=========  ===================================================  ===========================
extra      what it adds                                         needed by
=========  ===================================================  ===========================
``sim``    pvlib, richardsonpy, scipy, pandas, matplotlib       ``simulate``, ``compare``,
                                                                the demo's simulated houses
``demo``   the ``sim`` extra, amqtt (embedded MQTT broker),     ``gridpeer demo``
           eth-tester with py-evm (embedded chain)
``evm``    pyrevm (in-process EVM for fast chain simulation)    ``open_chain("revm")``,
                                                                simulations settled on chain
``netsim`` ns-3                                                 ``gridpeer netsim``
=========  ===================================================  ===========================

:func:`require` checks an extra's modules before they are needed and raises
:class:`MissingExtra` with the pip command that installs them.
"""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {
    "sim": ("pvlib", "richardsonpy", "scipy", "pandas", "matplotlib"),
    "demo": ("pvlib", "richardsonpy", "scipy", "pandas", "amqtt", "eth_tester", "eth"),
    "evm": ("pyrevm",),
    "netsim": ("ns",),
}
"""The importable modules each extra installs (``eth`` is py-evm)."""


class MissingExtra(ImportError):
    """An optional part of gridpeer is not installed; the message says how to install it."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    out = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules, or broken
            found = False
        if not found:
            out.append(module)
    return out


def require(extra: str, what: str) -> None:
    """Make sure ``extra`` is installed before ``what`` (e.g. ``"gridpeer demo"``) uses it.

    Raises:
        MissingExtra: naming the missing modules and the pip command that installs them.
        KeyError: ``extra`` is not one of :data:`EXTRAS`.
    """
    absent = missing(extra)
    if absent:
        raise MissingExtra(
            f"{what} needs the '{extra}' extra (missing: {', '.join(absent)}); install it "
            f"with: pip install 'gridpeer[{extra}]'"
        )
