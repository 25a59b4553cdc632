"""Resolve root requirements into a closure of pins for one target (resolvelib inside).

Importing this package does not import resolvelib; :func:`resolve` does, when called.
"""

from torchlock.resolver.finder import Finder
from torchlock.resolver.resolve import resolve
from torchlock.resolver.result import ROOT, Pin, Resolution

__all__ = ["ROOT", "Finder", "Pin", "Resolution", "resolve"]
