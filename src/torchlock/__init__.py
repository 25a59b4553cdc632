"""torchlock: the right PyTorch for a GPU machine, locked and verified."""

__version__ = "0.1.0"
