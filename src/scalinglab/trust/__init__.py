"""Trust: holdouts, backtests, law selection, calibrated intervals, diagnostics."""

from scalinglab.trust.backtest import BacktestResult, backtest
from scalinglab.trust.holdout import Holdout

__all__ = ["BacktestResult", "Holdout", "backtest"]
