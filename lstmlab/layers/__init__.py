"""Layers, with Keras's names, arguments and numbers."""
from .base import Grads, Layer
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .lstm import LSTM, LSTMState

__all__ = ["Layer", "Grads", "LSTM", "LSTMState", "Dense", "Dropout", "Embedding", "Input", "InputLayer"]
