"""Package indexes: PEP 503/691 pages, PEP 658 metadata, find-links folders, the HTTP cache.

This is the only package of torchlock that speaks HTTP (:mod:`transport`, on urllib3),
imported lazily when the first request is made: the pure parsers
(:mod:`pages`, :mod:`metadata`, :mod:`tags`) cost nothing beyond ``packaging``.
"""
