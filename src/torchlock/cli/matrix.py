"""`torchlock matrix`: which torch build fits a driver, GPU, Python and platform."""

from __future__ import annotations

import json

import click

from torchlock.cli.options import (
    default_python,
    detect_gpus,
    driver_setting,
    host_platform,
    selection_options,
)
from torchlock.matrix.report import selection_doc
from torchlock.matrix.select import Selection
from torchlock.workflows.selection import SelectionInputs, choose_build


@click.command()
@selection_options(policy_default="compat")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the documented JSON document instead of a table."
)
def matrix(
    driver: str | None,
    os_name: str | None,
    arch: str | None,
    gpu_cc: tuple[str, ...],
    python: str | None,
    torch_spec: str | None,
    variant: str | None,
    policy: str,
    as_json: bool,
) -> None:
    """Pick the torch/torchvision/torchaudio triple and build variant, with the reasons.

    Nothing is fetched: the answer comes from the compatibility matrix shipped
    with torchlock. The driver and GPUs are detected on this host unless given.
    """
    selection = choose_build(
        SelectionInputs(
            platform=host_platform(os_name, arch),
            python=python or default_python(),
            driver=driver_setting(driver),
            gpu_cc=gpu_cc,
            torch=torch_spec,
            variant=variant,
            policy=policy,
        ),
        detect=detect_gpus,
    )
    if as_json:
        click.echo(json.dumps(selection_doc(selection), indent=2))
    else:
        _print_table(selection)


def _print_table(selection: Selection) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    req = selection.request
    console.print(
        f"[bold]target[/]: {req.platform} · Python {req.python} · driver "
        f"{req.driver or 'none'} · GPUs {', '.join(str(g) for g in req.gpus) or 'unknown'} · "
        f"policy {req.policy.value}"
    )
    console.print(f"[bold]max CUDA[/] for this driver: {selection.max_cuda_version or 'none'}")
    table = Table(show_lines=False)
    for column in ("", "torch", "torchvision", "torchaudio", "variant", "CUDA", "default index"):
        table.add_column(column, no_wrap=True)
    shown = selection.candidates[:10]
    for i, cand in enumerate(shown):
        rel = cand.release
        table.add_row(
            "→" if i == 0 else "",
            str(rel.torch),
            str(rel.torchvision or "-"),
            str(rel.torchaudio or "-"),
            cand.variant.name,
            cand.variant.cuda_version or "-",
            "has it" if cand.default_index_has_it else "-",
        )
    console.print(table)
    if len(selection.candidates) > len(shown):
        more = len(selection.candidates) - len(shown)
        console.print(f"… and {more} older candidates (--json lists all)")
    best = selection.candidates[0]
    where = best.index_url
    if best.default_index_has_it:
        where += " (the default index serves the same build)"
    console.print(f"[bold]index[/]: {where}")
    for reason in selection.reasons:
        console.print(f"[green]why[/]: {reason}")
    for warning in selection.warnings:
        console.print(f"[yellow]warning[/]: {warning}")
