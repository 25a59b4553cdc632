"""`torchlock init`: write the project spec from this host."""

from __future__ import annotations

from pathlib import Path

import click
from packaging.requirements import InvalidRequirement, Requirement

from torchlock.cli.options import default_python, detect_gpus, driver_setting, host_platform
from torchlock.errors import InputError, LockfileError
from torchlock.target import Platform


@click.command("init")
@click.option(
    "--spec",
    "spec_file",
    metavar="FILE",
    help="Where to write: a torchlock.toml, or a pyproject.toml (its [tool.torchlock] table, "
    "the rest kept). Default: ./pyproject.toml if it exists, else ./torchlock.toml.",
)
@click.option(
    "--driver",
    metavar="VERSION|none|auto",
    help="The driver to plan for. Default: this host's (detected), 'none' without one; "
    "'auto' leaves it to each solve.",
)
@click.option("--gpu-cc", multiple=True, metavar="X.Y", help="Target GPU (repeatable).")
@click.option("--python", metavar="X.Y", help="Target Python. Default: this one.")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="linux-64|linux-aarch64|win-64|osx-arm64|osx-64",
    help="Target (repeatable).",
)
@click.option("--torch", "torch_spec", metavar="SPEC", help="torch version or range.")
@click.option("--variant", metavar="NAME", help="Force a build variant.")
@click.option(
    "--family",
    metavar="torch[,torchvision][,torchaudio]",
    help="Which of the torch family to lock, comma-separated: torch, torch,torchvision, "
    "torch,torchaudio or all three. Default: all that the matrix pairs with the release.",
)
@click.option("--policy", default="compat", show_default=True, metavar="compat|strict")
@click.option("--with", "with_reqs", multiple=True, metavar="REQ", help="Extra requirement.")
@click.option(
    "--project-dependencies",
    is_flag=True,
    help="Lock the pyproject's [project].dependencies too.",
)
@click.option("--index-url", metavar="URL", help="Default index (else pip's configured one).")
@click.option(
    "--extra-index-url",
    "extra_index_urls",
    multiple=True,
    metavar="URL",
    help="An index asked only for projects the default index lacks (repeatable).",
)
@click.option("--mirror", metavar="NAME", help="A named mirror.")
@click.option("--conda-channel", multiple=True, metavar="NAME", help="Conda channel.")
@click.option(
    "--no-conda",
    is_flag=True,
    help="Lock without the conda base (the environment brings its own Python).",
)
@click.option(
    "--lock", "lock_name", metavar="NAME", help="The lock's file name (pylock.<name>.toml)."
)
@click.option("--force", is_flag=True, help="Replace an existing spec.")
def init(
    spec_file: str | None,
    driver: str | None,
    gpu_cc: tuple[str, ...],
    python: str | None,
    platforms: tuple[str, ...],
    torch_spec: str | None,
    variant: str | None,
    family: str | None,
    policy: str,
    with_reqs: tuple[str, ...],
    project_dependencies: bool,
    index_url: str | None,
    extra_index_urls: tuple[str, ...],
    mirror: str | None,
    conda_channel: tuple[str, ...],
    no_conda: bool,
    lock_name: str | None,
    force: bool,
) -> None:
    """Write a project spec from this host: its Python, platform, driver and GPUs.

    Refuses to replace an existing spec without --force. Credentials in index URLs are
    left out (a spec is meant for the repository): keep them in ~/.netrc.
    """
    from torchlock.credentials import without_credentials
    from torchlock.lockfiles import spec as specs
    from torchlock.lockfiles.files import write_atomic
    from torchlock.matrix.request import parse_family

    path = _target(spec_file)
    is_pyproject = path.name == specs.PYPROJECT
    existing = path.read_text(encoding="utf-8") if path.is_file() else None
    if existing is not None and not force:
        has_spec = not is_pyproject or specs.parse(existing, str(path)) is not None
        if has_spec:
            raise LockfileError(
                str(path), "a project spec is already there", hint="use --force to replace it"
            )
    setting = driver_setting(driver)
    cc = list(gpu_cc)
    if setting.lower() == "auto" and driver is None:
        report = detect_gpus(None)
        setting = "none" if report.driver.version is None else str(report.driver.version)
        if not cc:
            cc = [str(g.compute_capability) for g in report.gpus if g.compute_capability]
    elif setting.lower() not in ("auto", "none") and not cc:
        report = detect_gpus(setting)
        cc = [str(g.compute_capability) for g in report.gpus if g.compute_capability]
    requirements = []
    for text in with_reqs:
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as exc:
            raise InputError(
                f"malformed requirement {text!r} (--with)", evidence=[str(exc)]
            ) from None
    spec = specs.ProjectSpec(
        python=python or default_python(),
        platforms=tuple(Platform.parse(p).conda_subdir for p in platforms)
        or (host_platform(None, None).conda_subdir,),
        torch=torch_spec,
        variant=variant,
        policy=policy,
        driver=setting,
        gpu_cc=tuple(cc),
        family=() if family is None else parse_family(family),
        requirements=tuple(requirements),
        project_dependencies=project_dependencies,
        index_url=None if index_url is None else without_credentials(index_url),
        extra_index_urls=tuple(map(without_credentials, extra_index_urls)),
        mirror=mirror,
        conda_channels=tuple(map(without_credentials, conda_channel)),
        no_conda=no_conda,
        lock=lock_name,
    )
    # parse what is written, so that init never writes a spec solve would refuse
    if is_pyproject:
        text = specs.merge_into_pyproject(existing or "", spec, str(path))
    else:
        text = specs.render(spec)
    specs.parse(text, str(path))
    write_atomic(path, text)
    click.echo(f"wrote {path}; next: torchlock solve (writes {spec.lock_name})")


def _target(spec_file: str | None) -> Path:
    from torchlock.lockfiles import spec as specs

    if spec_file is not None:
        return Path(spec_file)
    pyproject = Path(specs.PYPROJECT)
    return pyproject if pyproject.is_file() else Path(specs.SPEC_FILE)
