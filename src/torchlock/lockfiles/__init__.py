"""Lockfiles: one neutral :class:`~torchlock.lockfiles.model.Lock` and one module per format.

``pylock`` is the native format (PEP 751, render/parse); ``requirements``, ``condalock`` and
``environment`` are exports, each a typed document built from the Lock with its own
render/parse pair (``yamlout``/``yamlin`` write and read the YAML subset they use);
``files`` writes atomically;
``spec`` reads and writes the project spec (``[tool.torchlock]``).
"""
