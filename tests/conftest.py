import os

# Keras 3 runs on PyTorch in the tests: no TensorFlow needed.
os.environ.setdefault("KERAS_BACKEND", "torch")
