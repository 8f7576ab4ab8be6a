"""lstmlab: LSTM sequence models with the recurrence out in the open.

Keras's names, so `from lstmlab import Sequential, LSTM, Dense` is all a
Keras tutorial needs to change.
"""
from . import engine  # noqa: I001  (first, before any kernel is decorated: engine/cache.py)
from . import activations, callbacks, config, engine, initializers, layers, losses, metrics, models, optimizers
from .layers import LSTM, Dense, Dropout, Embedding, Input, LSTMState
from .models import Sequential, load_model
from .forecasting import forecast
from .state import Stream

__version__ = "0.1.0"

__all__ = [
    "Sequential", "load_model", "forecast", "Stream", "LSTM", "Dense", "Dropout", "Embedding", "Input", "LSTMState",
    "activations", "callbacks", "config", "engine", "initializers", "layers", "losses",
    "metrics", "models", "optimizers",
]
