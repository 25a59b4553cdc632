"""Compatibility knowledge: shipped data files and the pure code that queries them.

Nothing in this package touches the network or the host: the data lives in
``data/`` and is loaded with :func:`torchlock.matrix.load.load_matrix`.
"""
