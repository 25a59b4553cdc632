"""``torchlock doctor``: pass, warn or fail for each thing a GPU host needs, with the fix."""

from __future__ import annotations

from pathlib import Path

import click


def _disk_free(path: str) -> int | None:
    import shutil

    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON document.")
@click.option(
    "--path",
    "disk_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where environments will live, for the free-disk check. Default: your home.",
)
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, disk_path: Path | None) -> None:
    """Check this host: NVIDIA device, nouveau, driver, nvcc, LD_LIBRARY_PATH, disk,
    conda, nginx and Git. Exits 0 when nothing fails, 1 otherwise.
    """
    import os

    from torchlock.system.detect import detect_from_environment
    from torchlock.system.doctor import exit_code, findings_to_json, gather, run_checks
    from torchlock.system.files import read_text, which_in
    from torchlock.system.runner import SubprocessRunner

    report = detect_from_environment()
    inputs = gather(
        report=report,
        runner=SubprocessRunner(),
        read_text=read_text,
        which=which_in(os.environ),
        disk_free=_disk_free,
        disk_path=str(disk_path or Path.home()),
    )
    findings = run_checks(inputs)
    if as_json:
        click.echo(findings_to_json(findings), nl=False)
    else:
        for finding in findings:
            click.echo(f"{finding.status.value.upper():<5} {finding.title}: {finding.detail}")
            if finding.fix:
                click.echo(f"      fix: {finding.fix}")
        counts = {
            s: sum(1 for f in findings if f.status.value == s) for s in ("pass", "warn", "fail")
        }
        click.echo(f"{counts['pass']} passed, {counts['warn']} warned, {counts['fail']} failed")
    ctx.exit(exit_code(findings))
