"""Trust: holdouts, backtests, law selection, calibrated intervals, diagnostics."""

from scalinglab.trust.backtest import BacktestResult, backtest, choose_laws
from scalinglab.trust.holdout import Holdout

__all__ = ["BacktestResult", "Holdout", "backtest", "choose_laws"]
