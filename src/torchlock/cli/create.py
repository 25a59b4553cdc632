"""``torchlock create``: build the environment of the lock, prove it works, then put it in place."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from torchlock.cli.options import driver_option, driver_setting, host_platform
from torchlock.envs.probe import DEFAULT_TIMEOUT
from torchlock.errors import TorchlockError

if TYPE_CHECKING:
    from torchlock.envs.backends import ChosenBackend
    from torchlock.workflows.creating import CreateAttempt, CreateResult


class _Lines:
    """The Reporter of the CLI: a line per phase on stderr, a rich bar on a terminal."""

    def __init__(self, *, quiet: bool, bars: bool) -> None:
        self.quiet = quiet
        self.bars = bars
        self._progress: Any = None
        self._task: Any = None

    def phase(self, name: str, seconds: float, detail: str) -> None:
        if not self.quiet:
            click.echo(f"  {name:<9} {detail} ({seconds:.1f} s)", err=True)

    def bar_start(self, what: str, total: int | None) -> None:
        if not self.bars:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(what, total=total)

    def bar_advance(self, amount: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def bar_stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


@click.command("create")
@click.argument("name", required=False)
@click.option(
    "--lock",
    "lock_file",
    metavar="FILE",
    default=None,
    help="The lock to build from. Default: the project spec's lock, else ./pylock.toml.",
)
@click.option(
    "--backend",
    metavar="auto|conda|mamba|micromamba|rattler|venv",
    default="auto",
    show_default=True,
    help="What builds the base: auto picks conda-family when one is installed, else venv.",
)
@click.option(
    "--prefix",
    metavar="DIR",
    default=None,
    help="Build the environment at DIR instead of by NAME.",
)
@click.option(
    "--mirror",
    metavar="NAME|URL",
    default=None,
    help="Download the locked files (by file name, sha256 checked) from this mirror: a "
    "name from `torchlock matrix`'s mirror catalog, or the URL of a simple index that "
    "serves the same files. A file the mirror lacks comes from the lock's URL.",
)
@click.option(
    "--fallback",
    is_flag=True,
    help="When verification fails in a way an older build can fix, try the next candidate "
    "(older CUDA variant, then older torch) and write the lock that passed.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing environment (only after the new one verified).",
)
@driver_option
@click.option(
    "--build-with-torch",
    multiple=True,
    metavar="PROJECT",
    help="Build PROJECT's locked sdist against the environment's own torch (repeatable), "
    "besides those the lock names (solve --build-with-torch).",
)
@click.option(
    "--cache-dir",
    metavar="DIR",
    default=None,
    help="Download and HTTP cache. Default: $TORCHLOCK_CACHE_DIR or the user cache.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds the verification probe may run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON document.")
def create(
    name: str | None,
    lock_file: str | None,
    backend: str,
    prefix: str | None,
    mirror: str | None,
    fallback: bool,
    force: bool,
    driver: str | None,
    build_with_torch: tuple[str, ...],
    cache_dir: str | None,
    timeout: float,
    as_json: bool,
) -> int:
    """Build environment NAME from the lock, verify it, and only then put it in place.

    The environment is built beside its final place and moved in only after it
    installed and passed `torchlock verify`'s checks; a failure or Ctrl-C leaves
    nothing behind. venv environments named NAME live in
    $XDG_DATA_HOME/torchlock/envs/NAME (~/.local/share/torchlock/envs/NAME);
    conda-family ones in the tool's envs directory, so `conda activate NAME` works.
    Exits 0 when the environment was created, 1 when it did not verify.
    """
    from torchlock.cli.lockopts import lock_location
    from torchlock.cli.solve import _netrc_path, cache_folder, pip_settings
    from torchlock.envs.backends import Backend
    from torchlock.envs.create import Seams, list_dir
    from torchlock.index.download import HttpFetcher
    from torchlock.matrix.request import parse_build_with_torch
    from torchlock.system.detect import detect_from_environment
    from torchlock.system.files import which_in
    from torchlock.system.runner import SubprocessRunner
    from torchlock.workflows.creating import CreateFailed, CreateInputs, create_environment

    Backend.parse(backend)  # a usage error before anything else
    with_torch = parse_build_with_torch(build_with_torch)
    lock_path, _ = lock_location(lock_file, None)
    setting = driver_setting(driver)
    override = None if setting == "auto" else setting
    host = detect_from_environment(override, gpu_only=True)
    platform = host_platform(None, None)
    # the indexes and downloads are reached as solve reaches them: pip's trusted hosts and
    # cert (the certificates trusted instead of the system's), the netrc credentials
    pip = pip_settings()
    ca_file = None if pip.cert is None else Path(pip.cert)
    netrc_path = _netrc_path()
    fetcher = HttpFetcher(ca_file=ca_file, netrc_path=netrc_path, trusted_hosts=pip.trusted_hosts)
    seams = Seams(
        runner=SubprocessRunner(),
        fetcher=fetcher,
        env=os.environ,
        which=which_in(os.environ),
        list_dir=list_dir,
        home=str(Path.home()),
        os_kind=host.os.os,
        clock=time.monotonic,
    )
    reporter = _Lines(quiet=as_json, bars=not as_json and sys.stderr.isatty())

    def on_backend(chosen: ChosenBackend, final: Path) -> None:
        if not as_json:
            click.echo(f"backend: {chosen.backend.value} ({chosen.why})", err=True)
            click.echo(f"building {final}", err=True)

    def on_attempt(attempt: CreateAttempt) -> None:
        if not as_json:
            build = f"torch {attempt.torch}+{attempt.variant}"
            if attempt.abandoned is None:
                click.echo(f"attempt: {build}: verified", err=True)
            else:
                click.echo(f"attempt: {build}: abandoned: {attempt.abandoned}", err=True)

    inputs = CreateInputs(
        lock_path=lock_path,
        name=name,
        prefix=Path(prefix) if prefix else None,
        backend=backend,
        mirror=mirror,
        fallback=fallback,
        force=force,
        platform=platform,
        cache_dir=cache_folder(cache_dir),
        verify_timeout=timeout,
        trusted_hosts=pip.trusted_hosts,
        netrc_path=netrc_path,
        ca_file=ca_file,
        build_with_torch=with_torch,
    )
    try:
        result = create_environment(
            inputs,
            seams=seams,
            host=host,
            detect=lambda given: detect_from_environment(
                given if given is not None else override, gpu_only=True
            ),
            reporter=reporter,
            on_attempt=on_attempt,
            on_backend=on_backend,
        )
    except CreateFailed as failed:
        _print_failure(failed.attempts, as_json=as_json, os_kind=host.os.os)
        raise TorchlockError(
            str(failed),
            hint=None
            if fallback
            else "the report above names the cause and fix; --fallback tries older builds",
        ) from None
    finally:
        fetcher.close()
    if as_json:
        click.echo(json.dumps(_result_doc(result), indent=2, sort_keys=True))
    else:
        _print_result(result, name)
    return 0


def _attempt_doc(attempt: CreateAttempt) -> dict[str, Any]:
    from torchlock.envs.report import report_to_dict

    return {
        "torch": str(attempt.torch),
        "variant": attempt.variant,
        "ok": attempt.abandoned is None,
        "abandoned": attempt.abandoned,
        "report": None
        if attempt.report is None
        else report_to_dict(attempt.report, include_probe=False),
    }


def _result_doc(result: CreateResult) -> dict[str, Any]:
    from torchlock.envs.report import report_to_dict

    return {
        "ok": True,
        "prefix": str(result.prefix),
        "python": str(result.python),
        "backend": result.backend,
        "backend_why": result.backend_why,
        "torch": str(result.lock.selection.torch),
        "variant": result.attempts[-1].variant,
        "packages": {f.project: str(f.version) for f in result.built.files},
        "downloaded": result.built.downloaded,
        "attempts": [_attempt_doc(a) for a in result.attempts],
        "lock_written": None if result.lock_written is None else str(result.lock_written),
        "report": report_to_dict(result.built.report, include_probe=False),
    }


def _print_failure(attempts: tuple[CreateAttempt, ...], *, as_json: bool, os_kind: Any) -> None:
    from torchlock.cli.verify import print_report

    last = next((a.report for a in reversed(attempts) if a.report is not None), None)
    if as_json:
        doc = {"ok": False, "attempts": [_attempt_doc(a) for a in attempts]}
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    if last is not None:
        click.echo("")
        print_report(last, how="the new environment, before it was moved in", os_kind=os_kind)
        click.echo("")


def _print_result(result: CreateResult, name: str | None) -> None:
    report = result.built.report
    passed = sum(1 for c in report.checks if c.status.value == "pass")
    attempt = result.attempts[-1]
    click.echo(
        f"created {result.prefix}: torch {attempt.torch}+{attempt.variant}, "
        f"{len(result.built.files)} packages, verified ({passed} checks passed)"
    )
    if not report.gpu_host and report.notes:
        click.echo(report.notes[0])  # no NVIDIA GPU on this host: GPU checks skipped
    if result.backend in ("conda", "mamba", "micromamba") and name:
        click.echo(f"activate: {result.backend} activate {name}")
    elif sys.platform == "win32":
        click.echo(f"activate: {result.prefix}\\Scripts\\activate")
    else:
        click.echo(f"activate: source {result.prefix}/bin/activate")
    if result.lock_written is not None:
        click.echo(f"wrote {result.lock_written} (the build that passed)")
