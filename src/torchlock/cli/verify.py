"""``torchlock verify``: prove an environment's PyTorch works on this host, or say why not."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import click

from torchlock.envs.interpreters import locate
from torchlock.envs.probe import DEFAULT_TIMEOUT
from torchlock.envs.report import PACKAGES, Expectations, Report, Status, report_to_json
from torchlock.errors import InputError
from torchlock.matrix.model import Variant
from torchlock.target import OS, Platform

_MARK = {Status.PASS: "pass", Status.WARN: "warn", Status.FAIL: "FAIL", Status.SKIP: "skip"}


@click.command("verify")
@click.argument("name", required=False)
@click.option("--prefix", metavar="DIR", default=None, help="The environment's folder.")
@click.option(
    "--python", "python", metavar="PATH", default=None, help="The environment's interpreter."
)
@click.option(
    "--lock",
    "lock",
    metavar="FILE",
    default=None,
    help="Compare the installed versions with this lock file.",
)
@click.option(
    "--expect",
    "expect",
    metavar="NAME==VERSION",
    multiple=True,
    help=(
        "An installed version to expect, with its local label "
        "(e.g. torch==2.1.2+cu121); repeatable."
    ),
)
@click.option(
    "--driver",
    "driver",
    metavar="VERSION|none|auto",
    default=None,
    help=(
        "State the NVIDIA driver version instead of detecting it. "
        "Default: $TORCHLOCK_DRIVER, else auto."
    ),
)
@click.option(
    "--timeout",
    "timeout",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds the probe may run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as a JSON document.")
def verify(
    name: str | None,
    prefix: str | None,
    python: str | None,
    lock: str | None,
    expect: tuple[str, ...],
    driver: str | None,
    timeout: float,
    as_json: bool,
) -> int:
    """Run a probe inside an environment and report each check as pass, warn, fail or skip.

    NAME is a conda environment, or one that `torchlock create NAME` made with the
    venv backend ($XDG_DATA_HOME/torchlock/envs/NAME); without NAME, --prefix or
    --python the active environment ($VIRTUAL_ENV, $CONDA_PREFIX) is verified.
    Every failure torchlock knows is named with its cause and fix. Exits 0 when no
    check fails, 1 otherwise.
    """
    from torchlock.envs.verify import verify_environment
    from torchlock.system.detect import detect_from_environment
    from torchlock.system.files import which_in
    from torchlock.system.runner import SubprocessRunner

    runner = SubprocessRunner()
    host = detect_from_environment(driver, gpu_only=True)
    located = locate(
        name=name,
        prefix=prefix,
        python=python,
        env=os.environ,
        runner=runner,
        which=which_in(os.environ),
        is_file=os.path.isfile,
        is_dir=os.path.isdir,
        home=str(Path.home()),
        os_kind=host.os.os,
    )
    if located.how == "--python" and os.name != "nt" and not os.access(located.python, os.X_OK):
        raise InputError(
            f"{located.python} is not executable",
            hint="give the path of the environment's python (bin/python, or python.exe)",
        )
    expectations = Expectations.parse(expect)
    if lock is not None:
        platform = Platform(os=host.os.os, arch=host.os.arch)
        expectations = expectations.over(lock_expectations(Path(lock), platform))
    report = verify_environment(
        located.python,
        runner=runner,
        host=host,
        expect=expectations,
        timeout=timeout,
    )
    if as_json:
        click.echo(report_to_json(report), nl=False)
    else:
        print_report(report, how=located.how, os_kind=host.os.os)
    return 0 if report.ok else 1


def lock_expectations(path: Path, platform: Platform) -> Expectations:
    """What the lock installs on ``platform``: torch/torchvision/torchaudio, variant, Python."""
    from torchlock.lockfiles import pylock
    from torchlock.lockfiles.files import read_text

    lock = pylock.parse(read_text(path), str(path))
    target = lock.target(platform.conda_subdir)
    versions = {
        str(package.name): package.version
        for package in lock.packages_for(target.platform)
        if package.name in PACKAGES
    }
    return Expectations(
        versions=versions,
        variant=Variant.parse(target.variant),
        python=lock.python,
        source=f"the lock {path}",
    )


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=indent, subsequent_indent=indent) or [
        indent
    ]


def print_report(report: Report, *, how: str, os_kind: OS) -> None:
    version = f": Python {report.python_version}" if report.python_version else ""
    click.echo(f"verifying {report.python} ({how}){version}")
    for note in report.notes[:1] if not report.gpu_host else ():
        click.echo(note)
    click.echo("")
    width = max((len(check.title) for check in report.checks), default=10)
    for check in report.checks:
        click.echo(f"  {_MARK[check.status]}  {check.title.ljust(width)}  {check.detail}")
        if check.status in (Status.FAIL, Status.WARN):
            for line in check.evidence[:12]:
                click.echo(f"        {line}")
            for failure_id in check.diagnoses:
                click.echo(f"        known failure: {failure_id} (cause and fix below)")
    if report.diagnoses:
        click.echo("")
        click.echo("known failures:")
        for diagnosis in report.diagnoses:
            failure = diagnosis.failure
            click.echo(f"  {failure.title} [{failure.id}], seen in: {', '.join(diagnosis.checks)}")
            click.echo("\n".join(_wrap(f"cause: {failure.cause}", "    ")))
            click.echo("\n".join(_wrap(f"fix: {failure.fix}", "    ")))
            for source in failure.sources:
                click.echo(f"    source: {source}")
    rest = report.notes if report.gpu_host else report.notes[1:]
    if rest:
        click.echo("")
        click.echo("notes:")
        for note in rest:
            click.echo("\n".join(_wrap(note, "  ")))
    click.echo("")
    verdict = "ok" if report.ok else "FAILED"
    counts = ", ".join(
        f"{report.count(status)} {word}"
        for status, word in (
            (Status.FAIL, "failed"),
            (Status.WARN, "warned"),
            (Status.PASS, "passed"),
            (Status.SKIP, "skipped"),
        )
    )
    click.echo(f"result: {verdict}: {counts}")
