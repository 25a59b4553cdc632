"""Host detection (pure parsers plus readers) and, later, the OS adapters.

Entry points: :func:`torchlock.system.detect.detect_from_environment` (this host)
and :func:`torchlock.system.detect.detect_host` (every seam passed in). Parsers
live in ``nvidia_smi``, ``os_release``, ``nvcc`` and ``parse``; ``runner`` is the
only module that starts programs. Nothing is imported here, to keep imports light.
"""
