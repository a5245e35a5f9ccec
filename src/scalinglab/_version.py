"""Package and on-disk schema versions."""

__version__ = "0.1.0"
# Version of the runs table / store layout / FitResult JSON. Bump on any incompatible change.
SCHEMA_VERSION = 1
# Version of the JSON of saved results (fits, fit sets, backtests, plans, diagnoses).
# 2: typed records (spec, provenance, bootstrap, calibration) and a "kind" key.
RESULT_FORMAT = 2
