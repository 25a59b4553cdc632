"""Lockfiles: one neutral :class:`~torchlock.lockfiles.model.Lock` and one module per format.

``pylock`` is the native format (PEP 751, render/parse); ``requirements``, ``condalock`` and
``environment`` are exports rendered from the same model; ``files`` writes atomically;
``spec`` reads and writes the project spec (``[tool.torchlock]``).
"""
