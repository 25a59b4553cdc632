"""Environments: the probe run inside them, the checks of what it found, and the
knowledge base of known failures (with their cause, fix and sources).

The back-ends that build environments (venv, conda-family, rattler) will live here too.
"""
