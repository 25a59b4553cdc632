"""Host detection (pure parsers plus readers) and, later, the OS adapters."""
