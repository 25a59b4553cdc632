"""The console script (and ``python -m torchlock``): the CLI, started and ended quickly.

Two settings of the interpreter that suit a command which runs for a moment and exits,
made here rather than in :mod:`torchlock.cli`, which tests and other programs import:

- The cycle collector waits for 100k allocations instead of 700. Starting up and solving
  allocates some 100k container objects (modules, classes, the parsed JSON pages) that
  reference counting frees; the collector ran ~130 times over them (~18 ms of a cold
  solve) and found nothing worth it.
- Once the command is done, Python's own teardown (freeing every module and object, a
  tenth of a cold solve) is skipped: output is flushed and the exit handlers run
  (logging, temporary files), then the process ends with the command's exit code.
"""

from __future__ import annotations

import gc
import sys
from typing import NoReturn


def run() -> NoReturn:
    gc.set_threshold(100_000, 10, 10)  # before the CLI and its libraries are imported
    import atexit
    import os

    from torchlock.cli import main

    try:
        main()
    except SystemExit as done:
        code = done.code
    else:  # main always exits; a return would be a bug, reported as one
        code = 1
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("text"): Python prints the text and exits 1
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            status = status or 141  # the reader went away, as main reports it
        except (OSError, ValueError):
            pass  # a closed or broken stream: nothing more can be said on it
    atexit._run_exitfuncs()
    os._exit(status)
