"""Law discovery: search a grammar of forms for the law that extrapolates best inside the data
(``scalinglab discover``). Layer: above :mod:`scalinglab.trust`, beside :mod:`scalinglab.plan`."""

from scalinglab.discover.lawfile import write_law_file
from scalinglab.discover.result import DiscoverResult, LeaderRow
from scalinglab.discover.search import discover

__all__ = ["DiscoverResult", "LeaderRow", "discover", "write_law_file"]
