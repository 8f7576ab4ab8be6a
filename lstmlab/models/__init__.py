"""Models: Sequential, and load_model for the files model.save writes."""
from .saving import ModelFileError, load_model
from .sequential import Sequential

__all__ = ["Sequential", "load_model", "ModelFileError"]
