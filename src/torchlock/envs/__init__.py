"""Environments: building them from a lock (venv, conda-family and rattler back-ends,
the downloads, the installers, the placement at the final prefix and the clean-up after
killed runs), the probe run inside them, the checks of what it found, and the knowledge
base of known failures (with their cause, fix and sources).
"""
