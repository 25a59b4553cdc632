"""Resolve root requirements into a closure of pins for one target (resolvelib inside).

Import from the modules: ``torchlock.resolver.resolve.resolve``,
``torchlock.resolver.result.Resolution``. This package's own import is empty so
that a warm solve, which only reads a stored result, does not pay for the
resolver; :func:`~torchlock.resolver.resolve.resolve` imports resolvelib when called.
"""
