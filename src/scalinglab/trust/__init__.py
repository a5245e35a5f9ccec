"""Trust: holdouts, backtests, law selection, calibrated intervals and predictions, diagnostics."""

from scalinglab.trust.backtest import BacktestResult, backtest
from scalinglab.trust.calibrate import calibrate
from scalinglab.trust.holdout import Holdout
from scalinglab.trust.predict import predict
from scalinglab.trust.select import choose_laws
from scalinglab.trust.twostage import predict_two_stage

__all__ = [
    "BacktestResult",
    "Holdout",
    "backtest",
    "calibrate",
    "choose_laws",
    "predict",
    "predict_two_stage",
]
