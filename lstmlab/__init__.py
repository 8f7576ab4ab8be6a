"""lstmlab: LSTM sequence models with the recurrence out in the open."""

__version__ = "0.1.0"
