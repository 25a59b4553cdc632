"""`torchlock solve`: choose the build and resolve the whole closure against real indexes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from torchlock.cli.options import (
    SIZE,
    default_python,
    detect_gpus,
    driver_setting,
    host_platform,
    sdist_builder,
    selection_options,
)
from torchlock.errors import InputError
from torchlock.index import limits

if TYPE_CHECKING:  # the solve machinery is imported when a solve runs, not for a stored answer
    from packaging.requirements import Requirement

    from torchlock.index.client import Limits
    from torchlock.lockfiles.model import LockInputs
    from torchlock.lockfiles.spec import LoadedSpec
    from torchlock.pipconfig import PipSettings
    from torchlock.workflows.solving import IndexSettings, Solution, TargetSolution, TorchIndex

TORCH_INDEX_CHOICES = ("auto", "pytorch", "default")  # workflows.TorchIndex's values


@click.command("solve")
@selection_options(policy_default=None)
@click.option(
    "--with", "with_reqs", multiple=True, metavar="REQ", help="An extra requirement (repeatable)."
)
@click.option(
    "-r",
    "--requirements",
    "req_files",
    multiple=True,
    metavar="FILE",
    help="A requirements file of extra requirements (repeatable).",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="linux-64|linux-aarch64|win-64|osx-arm64|osx-64",
    help="Target platform to resolve for (repeatable). Default: the --os/--arch target.",
)
@click.option("--index-url", metavar="URL", help="Default index. Default: pip's configured index.")
@click.option(
    "--extra-index-url",
    "extra_index_urls",
    multiple=True,
    metavar="URL",
    help="An index asked, in order, only for projects the default index does not have "
    "(repeatable); it can never replace a project the default index serves.",
)
@click.option("--mirror", metavar="NAME", help="A named mirror (tuna, ustc, aliyun, sjtu, ...).")
@click.option(
    "--torch-index",
    type=click.Choice(TORCH_INDEX_CHOICES),
    help="Where the torch family comes from: auto (the default; the default index when it "
    "serves the chosen build), pytorch (the PyTorch index of the variant), default.",
)
@click.option(
    "--pytorch-index-url",
    metavar="URL",
    envvar="TORCHLOCK_PYTORCH_INDEX_URL",
    help="The PyTorch index to use instead of the official one; {variant} in it is replaced "
    "by the build variant (e.g. https://mirror.example/whl/{variant}). "
    "Env: TORCHLOCK_PYTORCH_INDEX_URL.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME|URL",
    help="A conda channel for the lock's conda base, Python and pip (repeatable, in priority "
    "order): a name (conda-forge, on conda.anaconda.org) or a URL such as a mirror's "
    "(https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge) or file://. "
    "Default: the spec's conda-channels, else conda-forge.",
)
@click.option(
    "--no-conda",
    is_flag=True,
    envvar="TORCHLOCK_NO_CONDA",
    help="Lock without the conda base (no conda channel is asked); the lock records this. "
    "Env: TORCHLOCK_NO_CONDA=1.",
)
@click.option(
    "--family",
    metavar="torch[,torchvision][,torchaudio]",
    help="Which of the torch family to lock, comma-separated: torch, torch,torchvision, "
    "torch,torchaudio or all three. Default: all that the matrix pairs with the release.",
)
@click.option(
    "--find-links", multiple=True, metavar="DIR", help="A local folder of wheels, searched first."
)
@click.option(
    "--no-build",
    is_flag=True,
    help="Never run an sdist's build backend: an sdist whose PKG-INFO fixes its "
    "dependencies (PEP 643) is still locked, any other one is an error.",
)
@click.option(
    "--build-with-torch",
    multiple=True,
    metavar="PROJECT",
    help="Build PROJECT's sdist against the target's torch (repeatable): its build "
    "environment gets the locked torch installed, as flash-attn and deepspeed need; "
    "`create` builds it against the environment's own torch. The lock records it. "
    "Default: the spec's build-with-torch.",
)
@click.option(
    "--trusted-host",
    multiple=True,
    metavar="HOST",
    help="Allow plain http to HOST (or HOST:PORT), for indexes and conda channels alike.",
)
@click.option(
    "--offline", is_flag=True, help="Use the HTTP cache only; fail naming what is missing."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=limits.READ_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds of silence while an answer is read before the request is tried again.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0, max=20),
    default=limits.RETRIES,
    show_default=True,
    help="Tries of a failed request after the first (connection errors, timeouts, 429, 5xx).",
)
@click.option(
    "--request-deadline",
    type=click.FloatRange(min=0, min_open=True),
    default=limits.REQUEST_DEADLINE,
    show_default=True,
    metavar="SECONDS",
    help="Seconds a page or metadata file may take in all (a server that trickles its "
    "answer is cut off).",
)
@click.option(
    "--solve-deadline",
    type=click.FloatRange(min=0),
    default=limits.SOLVE_DEADLINE,
    show_default=True,
    metavar="SECONDS",
    help="Seconds all of one solve's requests may take; 0: no limit.",
)
@click.option(
    "--max-page-size",
    type=SIZE,
    default=limits.MAX_PAGE_BYTES,
    show_default=f"{limits.MAX_PAGE_BYTES >> 20}M",
    metavar="SIZE",
    help="The largest page or metadata file read, decompressed (bytes, or with K, M or G).",
)
@click.option(
    "--cache-dir",
    metavar="DIR",
    help="HTTP cache. Default: $TORCHLOCK_CACHE_DIR or the user cache.",
)
@click.option(
    "--spec",
    "spec_file",
    metavar="FILE",
    help="The project spec (torchlock.toml, or pyproject.toml with [tool.torchlock]). "
    "Default: the one in the current directory, if any. Flags override its values.",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write the lock (PEP 751, pylock.toml or pylock.<name>.toml) to FILE. Default: "
    "the spec's lock next to it when a spec is used, else no lock is written.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def solve_command(
    driver: str | None,
    os_name: str | None,
    arch: str | None,
    gpu_cc: tuple[str, ...],
    python: str | None,
    torch_spec: str | None,
    variant: str | None,
    policy: str | None,
    with_reqs: tuple[str, ...],
    req_files: tuple[str, ...],
    platforms: tuple[str, ...],
    index_url: str | None,
    extra_index_urls: tuple[str, ...],
    mirror: str | None,
    torch_index: str | None,
    pytorch_index_url: str | None,
    channels: tuple[str, ...],
    no_conda: bool,
    family: str | None,
    find_links: tuple[str, ...],
    no_build: bool,
    build_with_torch: tuple[str, ...],
    trusted_host: tuple[str, ...],
    offline: bool,
    timeout: float,
    retries: int,
    request_deadline: float,
    solve_deadline: float,
    max_page_size: int,
    cache_dir: str | None,
    spec_file: str | None,
    output: str | None,
    as_json: bool,
) -> None:
    """Pick the torch build for the target and resolve every package it needs.

    The torch family comes from the index that serves the chosen build; every
    other project from the default index (pip's configured one unless
    --index-url or --mirror says otherwise). Each project comes from exactly one
    index. Several --platform values resolve several targets in one run.
    """
    # A stored answer exists only for arguments that were valid when it was stored.
    answer, cache_root = _stored_answer(dict(locals()))
    if answer is not None and cache_root is not None:
        text = _answers().load_answer(cache_root, answer, offline=offline)
        if text is not None:
            click.echo(text, nl=False)
            return

    from torchlock.target import Platform

    for name in platforms:
        Platform.parse(name)  # a usage error before anything else

    from torchlock.cli.lockopts import load_spec
    from torchlock.index.client import Limits
    from torchlock.lockfiles import spec as specs
    from torchlock.matrix.request import parse_build_with_torch, parse_family
    from torchlock.workflows.selection import SelectionInputs
    from torchlock.workflows.solving import CondaSettings, SolveInputs, TorchIndex, solve

    requirements = [*(_requirement(r, "--with") for r in with_reqs)]
    for name in req_files:
        requirements.extend(_read_requirements(Path(name)))
    loaded = load_spec(spec_file)
    wanted = specs.merge(
        None if loaded is None else loaded.spec,
        specs.ProjectSpec(
            python=python,
            torch=torch_spec,
            variant=variant,
            policy=policy,
            driver=driver,
            gpu_cc=gpu_cc,
            platforms=platforms,
            family=() if family is None else parse_family(family),
            build_with_torch=parse_build_with_torch(build_with_torch),
            requirements=tuple(requirements),
            index_url=index_url,
            extra_index_urls=extra_index_urls,
            mirror=mirror,
            torch_index=torch_index,
            pytorch_index_url=pytorch_index_url,
            conda_channels=channels,
            no_conda=no_conda,
        ),
    )
    if loaded is not None and not requirements:
        requirements = list(loaded.requirements)
    targets = tuple(Platform.parse(p) for p in wanted.platforms)
    primary = host_platform(os_name, arch) if (os_name or arch or not targets) else targets[0]
    lock_path = _lock_path(output, loaded)
    settings = _index_settings(
        index_url=wanted.index_url,
        extra_index_urls=wanted.extra_index_urls,
        mirror=wanted.mirror,
        torch_index=TorchIndex(wanted.torch_index or "auto"),
        pytorch_index_url=wanted.pytorch_index_url,
        find_links=find_links,
        trusted_hosts=trusted_host,
        offline=offline,
        cache_dir=cache_dir,
        limits=Limits(
            read_timeout=timeout,
            retries=retries,
            request_deadline=request_deadline,
            solve_deadline=solve_deadline or None,
            max_page_bytes=max_page_size,
        ),
    )
    selection_inputs = SelectionInputs(
        platform=primary,
        python=wanted.python or default_python(),
        driver=wanted.driver or driver_setting(None),
        gpu_cc=wanted.gpu_cc,
        torch=wanted.torch,
        variant=wanted.variant,
        policy=wanted.policy or "compat",
    )
    conda = None
    if not wanted.no_conda and (lock_path is not None or channels):
        conda = CondaSettings(
            channels=wanted.conda_channels,
            cache_dir=None if settings.cache_dir is None else settings.cache_dir / "conda",
            offline=offline,
            trusted_hosts=settings.trusted_hosts,
        )
    solution = solve(
        SolveInputs(
            selection=selection_inputs,
            platforms=targets,
            requirements=tuple(requirements),
            family=wanted.family,
            build_with_torch=wanted.build_with_torch,
            indexes=settings,
            conda=conda,
        ),
        detect=detect_gpus,
        builder=None if no_build else sdist_builder(settings, wanted.build_with_torch),
    )
    if lock_path is not None:
        recorded = specs.lock_inputs(
            wanted,
            tuple(requirements),
            python=selection_inputs.python,
            platform=primary.conda_subdir,
            driver=selection_inputs.driver,
        )
        _write_lock(lock_path, solution, recorded)
        if loaded is not None:
            _say_where_the_spec_differs(loaded, recorded)
    if as_json:
        text = json.dumps(solution_doc(solution), indent=2) + "\n"
        click.echo(text, nl=False)
        if answer is not None and cache_root is not None:
            _answers().store_answer(cache_root, answer, solution.pages, text)
    else:
        _print(solution)


def _answers() -> Any:
    from torchlock.cli import answers

    return answers


def _stored_answer(params: dict[str, Any]) -> tuple[str | None, Path | None]:
    """(key, cache dir) of this command's stored answer, when it may have one."""
    from torchlock.cli.answers import answer_key

    if not params.get("as_json") or params.get("output") or params.get("spec_file"):
        return None, None
    given = params["index_url"]  # pip's configuration is read only when it decides
    url = given if given is not None else _default_index(None, params["mirror"])[0]
    cache_dir = params["cache_dir"]
    key = answer_key(params, default_index=url, env=os.environ)
    return key, cache_folder(cache_dir)


def _lock_path(output: str | None, loaded: LoadedSpec | None) -> Path | None:
    if output is None:
        return None if loaded is None else loaded.lock_path
    from torchlock.lockfiles.pylock import check_output_name

    return check_output_name(
        output, "e.g. -o pylock.toml or -o pylock.cu121.toml; other formats: torchlock export"
    )


def _say_where_the_spec_differs(loaded: LoadedSpec, recorded: LockInputs) -> None:
    """A note when flags (or TORCHLOCK_* variables) made the lock differ from the spec:
    `torchlock check` would call the lock stale, so say which keys, and how to record
    them. What the spec leaves to the host (Python, driver, platform) is taken from this
    host, as `check` takes it."""
    from torchlock.lockfiles import spec as specs

    spec_says = specs.lock_inputs(
        loaded.spec,
        loaded.requirements,
        python=default_python(),
        platform=host_platform(None, None).conda_subdir,
        driver=driver_setting(None),
    )
    if spec_says.digest == recorded.digest:
        return
    mine, theirs = recorded.document(), spec_says.document()
    keys = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
    click.echo(
        f"note: the lock records {', '.join(keys)} other than {loaded.path.name} says, so "
        f"`torchlock check` will call it stale; put the same values in {loaded.path.name} "
        "(`torchlock init --force` with these flags writes them)",
        err=True,
    )


def _write_lock(path: Path, solution: Solution, inputs: LockInputs) -> None:
    from torchlock.lockfiles.build import build_lock
    from torchlock.lockfiles.files import write_atomic
    from torchlock.lockfiles.pylock import render

    lock = build_lock(inputs=inputs, selection=solution.selection, targets=solution.targets)
    write_atomic(path, render(lock))
    base = "no conda base" if inputs.no_conda else f"{len(lock.conda)} conda packages"
    click.echo(
        f"wrote {path} ({len(lock.packages)} packages, {base}, for {', '.join(lock.platforms)})",
        err=True,
    )


def _requirement(text: str, where: str) -> Requirement:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise InputError(f"malformed requirement {text!r} ({where})", evidence=[str(exc)]) from None


def _read_requirements(path: Path) -> list[Requirement]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read requirements file {str(path)!r}: {exc.strerror}") from None
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise InputError(
                f"{path}:{number}: option lines are not supported in requirements files: {line!r}",
                hint="give index options on the command line (--index-url, --find-links)",
            )
        found.append(_requirement(line, f"{path}:{number}"))
    return found


def _index_settings(
    *,
    index_url: str | None,
    extra_index_urls: tuple[str, ...] = (),
    mirror: str | None,
    torch_index: TorchIndex,
    pytorch_index_url: str | None,
    find_links: tuple[str, ...],
    trusted_hosts: tuple[str, ...],
    offline: bool,
    cache_dir: str | None,
    limits: Limits | None = None,
) -> IndexSettings:
    from torchlock.workflows.solving import IndexSettings

    url, source, pip = _default_index(index_url, mirror)
    # Only the index comes from pip's configuration: a wheelhouse wins over every index,
    # so it is used only when named on the command line.
    folders = list(find_links)
    for folder in folders:
        if not Path(folder).is_dir():
            raise InputError(f"--find-links folder {folder!r} does not exist")
    return IndexSettings(
        default_index=url,
        default_index_source=source,
        extra_index_urls=tuple(extra_index_urls),
        torch_index=torch_index,
        pytorch_index_url=pytorch_index_url,
        mirror=mirror,
        find_links=tuple(Path(f) for f in folders),
        trusted_hosts=(*trusted_hosts, *pip.trusted_hosts),
        offline=offline,
        cache_dir=cache_folder(cache_dir),
        netrc_path=_netrc_path(),
        ca_file=None if pip.cert is None else Path(pip.cert),
        limits=limits,
    )


def pip_settings() -> PipSettings:
    """What this user's pip is configured with (files and PIP_* variables)."""
    from torchlock.pipconfig import read_pip_settings

    return read_pip_settings(os.environ, _read_text, _system(), str(Path.home()), sys.prefix)


def _default_index(index_url: str | None, mirror: str | None) -> tuple[str, str, PipSettings]:
    """(the default index, where it came from, pip's settings: trusted hosts, cert)."""
    from torchlock.pipconfig import default_index, pip_default_index

    pip = pip_settings()
    if index_url is not None:
        return index_url, "--index-url", pip
    if mirror is not None:
        from torchlock.matrix.mirrors import mirror_by_name

        chosen = mirror_by_name(mirror)
        if chosen.pypi is None:
            raise InputError(f"mirror {mirror!r} does not mirror the general packages")
        return chosen.pypi.url, f"--mirror {mirror}", pip
    url, source = default_index(pip, pip_default_index())
    return url, source, pip


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _system() -> str:
    import platform

    return platform.system()


def cache_folder(given: str | None) -> Path:
    """--cache-dir, else the default; a usage error when something else is in its place."""
    path = Path(given) if given else _default_cache_dir()
    if path.exists() and not path.is_dir():
        where = "--cache-dir" if given else "the cache folder"
        raise InputError(
            f"{where} {str(path)!r} is not a folder",
            hint="give --cache-dir DIR (or TORCHLOCK_CACHE_DIR) naming a folder",
        )
    return path


def _default_cache_dir() -> Path:
    explicit = os.environ.get("TORCHLOCK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    system = _system()
    if system == "Windows":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "torchlock" / "Cache"
    if system == "Darwin":
        return Path.home() / "Library" / "Caches" / "torchlock"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "torchlock"


def _netrc_path() -> Path | None:
    explicit = os.environ.get("NETRC")
    path = Path(explicit) if explicit else Path.home() / ".netrc"
    return path if path.is_file() else None


def solution_doc(solution: Solution) -> dict[str, Any]:
    from torchlock.matrix.report import selection_doc

    return {
        "selection": selection_doc(solution.selection),
        "targets": [_target_doc(t) for t in solution.targets],
    }


def _target_doc(target: TargetSolution) -> dict[str, Any]:
    from torchlock.matrix.report import candidate_doc

    return {
        "platform": target.platform.conda_subdir,
        "python": target.python,
        "build": candidate_doc(target.candidate),
        "torch_index": target.torch_index,
        "default_index": target.default_index,
        "packages": [
            {
                "name": pin.name,
                "version": str(pin.version),
                "index": pin.index,
                "requires_python": None
                if pin.requires_python is None
                else str(pin.requires_python),
                "dependencies": list(pin.dependencies),
                "required_by": list(pin.required_by),
                "files": [
                    {
                        "filename": a.filename,
                        "url": a.url,
                        "sha256": a.sha256,
                        "size": a.size,
                        "requires_python": None
                        if a.requires_python is None
                        else str(a.requires_python),
                    }
                    for a in pin.artifacts
                ],
            }
            for pin in target.resolution.pins
        ],
        "conda": [
            {
                "name": c.name,
                "version": c.version,
                "build": c.build,
                "channel": c.channel,
                "subdir": c.subdir,
                "url": c.url,
                "sha256": c.sha256,
                "md5": c.md5,
                "size": c.size,
                "depends": list(c.depends),
            }
            for c in target.conda
        ],
    }


def _print(solution: Solution) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for target in solution.targets:
        build = target.candidate
        # where torch really came from: a --find-links folder answers before any index
        source = next(
            (pin.index for pin in target.resolution.pins if pin.name == "torch"),
            target.torch_index,
        )
        console.print(
            f"[bold]{target.platform.conda_subdir}[/] · Python {target.python} · torch "
            f"{build.torch} ({build.variant.name}) from {source}"
        )
        table = Table()
        for column in ("package", "version", "index", "required by"):
            table.add_column(column)
        for pin in target.resolution.pins:
            table.add_row(pin.name, str(pin.version), pin.index, ", ".join(pin.required_by))
        console.print(table)
    for reason in solution.selection.reasons:
        console.print(f"[green]why[/]: {reason}")
    for warning in solution.selection.warnings:
        console.print(f"[yellow]warning[/]: {warning}")
