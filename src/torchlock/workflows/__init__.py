"""Use cases that combine the parts; no click, no printing, no environment reading.

Each function takes what the CLI gathered (options, the host seams) and returns values;
the CLI renders them. One module per use case, so that a command imports only its own:
:mod:`selection` (the build for a target), :mod:`solving` (the resolved closure),
:mod:`creating` (an environment from a lock).
"""
