"""Package and on-disk schema versions."""

__version__ = "0.1.0"
# Version of the runs table / store layout / FitResult JSON. Bump on any incompatible change.
SCHEMA_VERSION = 1
