"""Forecasts of a house's PV and load per slot, shared by the simulator and the live agents.

Every forecaster reads a history array ``(houses, T)`` of energy per slot (Wh) and a
``now`` index: only ``history[:, :now]`` is read (the test perturbs the rest), so no
forecast can see the future. Models: persistence (yesterday's same slot), clear sky
(derated clear-sky PV, an astronomical quantity), SARIMA (statsmodels) and gradient
boosting (scikit-learn), the last two fitted on each house's own history. Metrics: MAE,
RMSE and skill against persistence (:mod:`gridpeer.profiles.forecast.metrics`).
"""

from gridpeer.profiles.forecast.base import SLOTS_PER_DAY, Forecaster
from gridpeer.profiles.forecast.gbm import GradientBoosting
from gridpeer.profiles.forecast.metrics import ForecastScore
from gridpeer.profiles.forecast.naive import ClearSky, Persistence
from gridpeer.profiles.forecast.sarima import Sarima

MODELS = ("persistence", "clear-sky", "sarima", "gbm")


def make_forecaster(name: str) -> Forecaster:
    """A forecaster by name: ``persistence``, ``clear-sky``, ``sarima`` or ``gbm``."""
    if name == "persistence":
        return Persistence()
    if name == "clear-sky":
        return ClearSky()
    if name == "sarima":
        return Sarima()
    if name == "gbm":
        return GradientBoosting()
    raise ValueError(f"unknown forecast model {name!r}; one of {', '.join(MODELS)}")


__all__ = [
    "MODELS",
    "SLOTS_PER_DAY",
    "ClearSky",
    "ForecastScore",
    "Forecaster",
    "GradientBoosting",
    "Persistence",
    "Sarima",
    "make_forecaster",
]
