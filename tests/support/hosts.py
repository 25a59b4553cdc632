"""Host names that must never be written into the project (assembled, not spelled out)."""

from __future__ import annotations

import re

_TLD = "." + "org"
REGISTRY_HOSTS = re.compile(
    "|".join(re.escape(name + _TLD) for name in ("pypi", "pythonhosted")), re.IGNORECASE
)
