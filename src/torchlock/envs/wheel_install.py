"""Installing the locked wheels where uv is absent: PyPA's ``installer``, then ``compileall``.

pip installs one wheel after the other and compiles their bytecode in its own process; for
a torch closure (one wheel of some 15,000 files) that is most of a ``create`` without uv.
Here nothing is resolved or fetched: the wheels are in the download cache, checked
against the lock's sha256. Each is unpacked by ``installer`` (the PyPA library that does
a wheel install's file work, RECORD, INSTALLER and entry-point scripts, as pip lays them
out) into the environment's own scheme, several wheels at once, and the bytecode is then
compiled by the environment's own Python with ``compileall -j0`` (a worker per core), so
that the ``.pyc`` files carry that interpreter's magic number and paths.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from torchlock.envs.install import BuildError
from torchlock.envs.parallel import in_parallel
from torchlock.system.runner import Completed, Runner

log = logging.getLogger(__name__)

STEP_TIMEOUT = 3600.0
_SCHEME = """
import json, sys, sysconfig
paths = sysconfig.get_paths()
version = "%d.%d" % sys.version_info[:2]
print(json.dumps({
    "purelib": paths["purelib"],
    "platlib": paths["platlib"],
    "scripts": paths["scripts"],
    "data": paths["data"],
    "headers": paths["include"] if sys.prefix == sys.base_prefix else
        sys.prefix + "/include/site/python" + version,
}))
"""


def environment_scheme(runner: Runner, python: str) -> dict[str, str]:
    """Where the environment of ``python`` keeps each kind of file (sysconfig's scheme)."""
    done = runner.run([python, "-c", _SCHEME], timeout=120.0)
    if not isinstance(done, Completed) or done.returncode != 0:
        raise BuildError(
            "cannot read the environment's install scheme", evidence=[str(done)[-500:]]
        )
    try:
        scheme = json.loads(done.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BuildError(
            "cannot read the environment's install scheme", evidence=[done.output[-500:]]
        ) from None
    return {str(k): str(v) for k, v in scheme.items()}


def install_wheels(
    wheels: Sequence[Path],
    *,
    python: str,
    runner: Runner,
    workers: int = 4,
) -> None:
    """Install ``wheels`` (checked files) into the environment of ``python``; compile."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    scheme = environment_scheme(runner, python)
    if sys.platform == "win32":
        kind = "win-arm64" if "ARM" in sys.version.upper() else "win-amd64"
    else:
        kind = "posix"
    destination = SchemeDictionaryDestination(
        scheme,
        interpreter=python,
        script_kind=kind,  # type: ignore[arg-type]
        bytecode_optimization_levels=(),  # compileall does it, in parallel, below
    )

    def one(wheel: Path) -> None:
        try:
            with WheelFile.open(wheel) as source:
                install(source, destination, additional_metadata={"INSTALLER": b"torchlock\n"})
        except (InstallerError, ValueError, OSError) as exc:
            raise BuildError(f"cannot install {wheel.name}", evidence=[str(exc)]) from None

    in_parallel(list(wheels), one, workers)
    folders = list(dict.fromkeys((scheme["purelib"], scheme["platlib"])))
    done = runner.run([python, "-m", "compileall", "-q", "-j0", *folders], timeout=STEP_TIMEOUT)
    # a file that does not compile (a template, a module for another Python) is skipped,
    # as pip skips it; only a compileall that could not run is an error
    if not isinstance(done, Completed):
        raise BuildError("cannot compile the environment's bytecode", evidence=[str(done)])
    if done.returncode != 0:
        log.info("compileall: some files did not compile: %s", done.output[-1000:])
