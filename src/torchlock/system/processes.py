"""Whether a process is still running, by its id (POSIX and Windows).

Used to tell a leftover of a killed torchlock (its process gone) from the working files
of one that is running now. On Windows ``os.kill(pid, 0)`` is no question: signal 0 is
CTRL_C_EVENT there, and any other value terminates the process; the process is opened
for a query instead.
"""

from __future__ import annotations

import os
import sys


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a process of another user counts)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)  # POSIX: signal 0 checks, and sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


def _alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    import ctypes

    query_limited_information = 0x1000
    still_active = 259
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        # access denied: it exists; anything else (invalid parameter): it does not
        return bool(kernel32.GetLastError() == 5)
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)
