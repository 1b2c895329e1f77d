"""Readers for users' own data files, one module per format (like pvlib's iotools).

Each ``read_*`` returns a pandas DataFrame indexed by UTC time (``time``) with powers in
W (``load_w``, and ``pv_w`` where the file has it) and raises :class:`ProfileFileError`
(a ValueError) naming the file, line and column for malformed input.
"""

from gridpeer.profiles.readers._common import ProfileFileError, resample_power
from gridpeer.profiles.readers.refit import read_refit
from gridpeer.profiles.readers.smart_home import read_smart_home
from gridpeer.profiles.readers.split_json import read_split_json
from gridpeer.profiles.readers.watts import read_watts_csv

__all__ = [
    "ProfileFileError",
    "read_refit",
    "read_smart_home",
    "read_split_json",
    "read_watts_csv",
    "resample_power",
]
