"""Lockfiles: one neutral :class:`~torchlock.lockfiles.model.Lock` and one module per format.

``pylock`` is the native format (PEP 751, render/parse); ``requirements``, ``condalock`` and
``environment`` are exports, each a typed document built from the Lock and rendered
(``yamlout`` writes the YAML subset they use; pip, uv, conda and conda-lock read them);
``files`` writes atomically;
``spec`` reads and writes the project spec (``[tool.torchlock]``).
"""
