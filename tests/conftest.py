import os

# Keras 3 runs on PyTorch in the tests: no TensorFlow needed.
os.environ.setdefault("KERAS_BACKEND", "torch")

# The property tests draw the same examples on every run (each test's own hash seeds them), so
# that a run that passed passes again and a failure can be replayed; HYPOTHESIS_PROFILE=explore
# draws new examples each run, to look for the next failure.
from hypothesis import settings  # noqa: E402

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
