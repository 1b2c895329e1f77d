"""gridpeer.market: the business layer as a pure, exact, fast library.

Orders, trading calendars, market mechanisms (order book, double auctions, community
pricing schemes), grid tariffs, settlement of deviations and KPIs. Energy is integer
Wh, prices integer wei per kWh, money integer wei.

This package ``__init__`` imports nothing on purpose, so that light modules such as
:mod:`gridpeer.market.calendar` stay importable without numpy. Import from the
submodules, e.g. ``from gridpeer.market.auction import UniformPrice``.
"""
