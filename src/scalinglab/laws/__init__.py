"""The law catalogue. Each module of this package defines ``LAW`` (see :mod:`.base`)."""

from scalinglab.laws.base import Law, Param
from scalinglab.laws.registry import get_law, list_laws

__all__ = ["Law", "Param", "get_law", "list_laws"]
