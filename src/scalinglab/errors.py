"""Exceptions and warnings raised by scalinglab.

Every user-facing error says what is wrong, where (file, row, column, parameter), the value seen,
and how to fix it. The CLI turns any :class:`ScalinglabError` into that message and exit code 2.
"""

from __future__ import annotations


class ScalinglabError(Exception):
    """Base class of all errors caused by user input or requests."""


class DataError(ScalinglabError):
    """Bad runs data: missing columns, non-numeric or non-finite cells, conflicting duplicates."""


class FitError(ScalinglabError):
    """A fit cannot be carried out as asked (unknown law, too few points, bad option)."""


class NotFittedError(ScalinglabError):
    """A fit result was needed but none was found (bad id or file)."""


class StoreError(ScalinglabError):
    """The runs store cannot be used (wrong schema version, corrupt, locked)."""


class ConvergenceWarning(UserWarning):
    """The optimiser stopped before convergence or the starts disagree."""


class ExtrapolationWarning(UserWarning):
    """A prediction lies far outside the range of the fitted runs."""


class IdentifiabilityWarning(UserWarning):
    """A parameter is at a bound or a direction of the objective is flat."""


class OutlierWarning(UserWarning):
    """Some runs' residuals lie far outside the rest (robust z-score)."""
