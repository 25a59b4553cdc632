"""A stand-in ``conda`` program: records its arguments and makes a Python prefix.

``conda info --json`` names an envs directory; ``conda create ... -p PREFIX ...`` makes
PREFIX a working Python environment with the interpreter running the tests (a venv: the
real conda would link its python package there), with pip when ``pip`` is among the
packages asked for, as the real one installs it. Every call appends
its arguments, one line each, to a log file, so tests check the commands issued.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_fake_conda(bin_dir: Path, *, envs_dir: Path, log: Path, name: str = "conda") -> Path:
    base = getattr(sys, "_base_executable", sys.executable)
    info = json.dumps({"envs_dirs": [str(envs_dir)], "root_prefix": str(envs_dir.parent)})
    script = f"""#!/bin/sh
printf '%s\\n' "$*" >> '{log}'
case "$1" in
  info) printf '%s\\n' '{info}' ;;
  create)
    prefix=""
    previous=""
    seed="--without-pip"
    for arg in "$@"; do
      if [ "$previous" = "-p" ]; then prefix="$arg"; fi
      if [ "$arg" = "pip" ]; then seed=""; fi
      previous="$arg"
    done
    exec '{base}' -m venv $seed "$prefix" ;;
  *) echo "fake {name}: unsupported command $1" >&2; exit 2 ;;
esac
"""
    path = bin_dir / name
    path.write_text(script)
    path.chmod(0o755)
    return path
