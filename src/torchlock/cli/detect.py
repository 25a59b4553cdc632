"""``torchlock detect``: what this host has, each fact with where it came from."""

from __future__ import annotations

import click

from torchlock.system.detect import detect_from_environment
from torchlock.system.model import HostReport


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as a JSON document.")
@click.option(
    "--driver",
    "driver",
    metavar="VERSION",
    default=None,
    help=(
        "State the NVIDIA driver version (e.g. 525.85.05) instead of detecting it, "
        "'none' for a host without one, 'auto' to detect. Default: $TORCHLOCK_DRIVER, else auto."
    ),
)
def detect(as_json: bool, driver: str | None) -> None:
    """Report the NVIDIA driver, GPUs, OS, CUDA toolkit, tools and Pythons of this host.

    No GPU or no driver is a finding, not a failure: the command exits 0.
    """
    report = detect_from_environment(driver)
    if as_json:
        from torchlock.system.report import report_to_json

        click.echo(report_to_json(report), nl=False)
        return
    print_table(report)


def _rows(report: HostReport) -> list[tuple[str, str, str]]:
    os_info, driver = report.os, report.driver
    rows: list[tuple[str, str, str]] = [
        ("OS", os_info.pretty or os_info.os.value, os_info.source),
        ("architecture", os_info.arch.value, "platform"),
    ]
    if os_info.distro:
        rows.append(
            ("distribution", f"{os_info.distro} {os_info.version or ''}".strip(), os_info.source)
        )
    if os_info.wsl:
        rows.append(("WSL", "yes", "/proc/version"))
    rows.append(("driver status", driver.status.value, driver.source or ""))
    if driver.version is not None:
        rows.append(("driver version", str(driver.version), driver.source or ""))
    if driver.detail:
        rows.append(("driver detail", driver.detail, ""))
    if driver.cuda:
        rows.append(("driver CUDA", driver.cuda, driver.cuda_source or ""))
    if not report.gpus:
        rows.append(("GPUs", "none found", ""))
    for gpu in report.gpus:
        memory = f", {gpu.memory_mib} MiB" if gpu.memory_mib is not None else ""
        cc = gpu.compute_capability
        rows.append((f"GPU {gpu.index}", f"{gpu.name}{memory}", gpu.source))
        rows.append(
            (
                f"GPU {gpu.index} compute capability",
                f"{cc} ({cc.sm})" if cc else "unknown",
                gpu.cc_source or "",
            )
        )
    toolkit = report.toolkit
    if toolkit is None:
        rows.append(("CUDA toolkit", "not found", "nvcc"))
    else:
        build = f" ({toolkit.build})" if toolkit.build else ""
        rows.append(("CUDA toolkit", f"{toolkit.version}{build} at {toolkit.path}", toolkit.source))
    for tool in report.tools:
        rows.append((tool.name, f"{tool.version or '?'} at {tool.path}", "PATH"))
    for python in report.pythons:
        rows.append(("Python", f"{python.version} at {python.path}", python.source))
    for path in report.cuda_library_paths:
        rows.append(("CUDA libraries", path, "LD_LIBRARY_PATH"))
    return rows


def print_table(report: HostReport) -> None:
    """The report as a rich table of fact, value and source, then the notes."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="torchlock detect", title_justify="left")
    table.add_column("fact", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold", style="dim")
    for fact, value, source in _rows(report):
        table.add_row(Text(fact), Text(value), Text(source))
    console = Console(soft_wrap=False)
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
