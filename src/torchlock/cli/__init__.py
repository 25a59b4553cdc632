"""The torchlock command line.

Subcommands live in their own modules and are imported only when invoked, so
``torchlock --help`` and quick commands stay fast. This package is the one
place that turns a :class:`~torchlock.errors.TorchlockError` into words and an
exit code.
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import click

from torchlock import __version__
from torchlock.errors import TorchlockError

# name -> (module, attribute, one-line help shown by ``torchlock --help``)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": (
        "torchlock.cli.check",
        "check",
        "Exit 0 when the lock matches the project spec, 1 with what changed when it is stale.",
    ),
    "doctor": (
        "torchlock.cli.doctor",
        "doctor",
        "Check this host (device, nouveau, driver, nvcc, paths, disk, conda, nginx, Git).",
    ),
    "system": (
        "torchlock.cli.system",
        "system",
        "Plan and apply host components: driver, cuda, conda, nginx, git.",
    ),
    "create": (
        "torchlock.cli.create",
        "create",
        "Build an environment from the lock, verify it, then move it into place.",
    ),
    "detect": (
        "torchlock.cli.detect",
        "detect",
        "Report the NVIDIA driver, GPUs, OS, toolkit and Pythons of this host.",
    ),
    "export": (
        "torchlock.cli.export",
        "export",
        "Export the lock as pip requirements, conda-lock.yml, environment.yml or PEP 751.",
    ),
    "init": (
        "torchlock.cli.init",
        "init",
        "Write the project spec ([tool.torchlock] or torchlock.toml) from this host.",
    ),
    "fleet": (
        "torchlock.cli.fleet",
        "fleet",
        "Run torchlock across the hosts of an Ansible inventory (ansible-core).",
    ),
    "matrix": (
        "torchlock.cli.matrix",
        "matrix",
        "Pick the torch/torchvision/torchaudio triple and CUDA variant for a driver and GPU.",
    ),
    "solve": (
        "torchlock.cli.solve",
        "solve_command",
        "Choose the build and resolve its whole dependency closure against the indexes.",
    ),
    "verify": (
        "torchlock.cli.verify",
        "verify",
        "Prove an environment's PyTorch works on this host; name each known failure's fix.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command = getattr(module, entry[1])
        assert isinstance(command, click.Command)
        _refuse_empty_values(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the short help above instead of importing every command module.
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _refuse_empty_values(command: click.Command) -> None:
    """Every option that takes text refuses an empty one (``verify --python ""`` would
    otherwise verify the default interpreter, as if the option were left out)."""
    from torchlock.cli.options import not_empty

    commands = [command]
    while commands:
        current = commands.pop()
        if isinstance(current, click.Group):
            commands.extend(current.commands.values())
        for param in current.params:
            if (
                isinstance(param, click.Option)
                and not param.is_flag
                and param.callback is None
                and isinstance(param.type, click.types.StringParamType)
            ):
                param.callback = not_empty


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="torchlock")
def cli() -> None:
    """Give a GPU machine the right PyTorch, locked and verified.

    Start with `torchlock detect` to see what this host has, then
    `torchlock matrix` to see which torch build fits it and why.
    """


# Click 8.2+ raises this for a group called without a command; older Clicks print the help.
_NO_ARGS_IS_HELP: type[click.ClickException] | tuple[()] = getattr(
    click.exceptions, "NoArgsIsHelpError", ()
)


def _one_line(message: str) -> str:
    """Click's message as the one line every torchlock error is: lower-case start, no
    line breaks, no closing full stop."""
    text = " ".join(message.split()).rstrip(".")
    return text[:1].lower() + text[1:]


def _command_path(exc: click.UsageError, argv: list[str]) -> str:
    """The command whose help explains a usage error: Click attaches some errors (an
    option missing its value) to the group, so the subcommand is read from argv, unless
    the option at fault stands before it (a group option)."""
    if exc.ctx is not None and exc.ctx.command is not cli:
        return exc.ctx.command_path
    position = next((i for i, arg in enumerate(argv) if arg in _COMMANDS), None)
    if position is None:
        return "torchlock"
    option = getattr(exc, "option_name", None)
    if option is not None and option in argv[:position]:
        return "torchlock"
    return f"torchlock {argv[position]}"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map errors to exit codes.

    Always ends in :func:`sys.exit`: 0 on success, the error class's code on a
    :class:`TorchlockError`, 2 on a usage error, 130 when interrupted. Every error is
    one line on stderr starting with ``error:``; a usage error names the command's help.
    """
    try:
        result: Any = cli.main(args=argv, prog_name="torchlock", standalone_mode=False)
    except TorchlockError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except _NO_ARGS_IS_HELP as exc:  # `torchlock` alone: the help, as Click shows it
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = _command_path(exc, sys.argv[1:] if argv is None else argv)
        click.echo(f"error: {_one_line(exc.format_message())} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(141)
    except OSError as exc:
        # a path the user gave that the file system refuses (too long, not a folder): the
        # errors torchlock expects are TorchlockErrors; this keeps the rest to one line too
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"error: {_one_line(str(exc.strerror or exc))}{where}", err=True)
        sys.exit(2 if exc.errno in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR) else 1)
    sys.exit(result if isinstance(result, int) else 0)
