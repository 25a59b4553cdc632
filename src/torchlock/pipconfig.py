"""The package index the user's pip is configured with, read the way pip reads it.

torchlock's default general index is whatever ``pip install`` would use on this machine:
the pip configuration files and ``PIP_*`` environment variables, else pip's own built-in
default, read at run time from the installed pip (:func:`pip_default_index`). No index
URL is written in this module. When nothing is configured and pip is not importable,
:func:`default_index` raises InputError and the caller must ask for ``--index-url``.

Everything here is pure except :func:`pip_default_index`: the environment, the file
reader, the platform and the directories are passed in (the CLI supplies ``os.environ``,
a reader of real files, ``platform.system()``, ``Path.home()`` and ``sys.prefix``).

pip's rules, as implemented by pip's ``configuration.py`` and ``cli/parser.py``:

* Files, lowest to highest precedence: global (``$XDG_CONFIG_DIRS``/pip/pip.conf, default
  ``/etc/xdg/pip/pip.conf``, then ``/etc/pip.conf``; macOS ``/Library/Application
  Support/pip/pip.conf``; Windows ``C:\\ProgramData\\pip\\pip.ini``), user (legacy
  ``~/.pip/pip.conf`` then ``$XDG_CONFIG_HOME/pip/pip.conf``, default
  ``~/.config/pip/pip.conf``; on macOS ``~/Library/Application Support/pip/pip.conf``
  when that folder exists; Windows ``~\\pip\\pip.ini`` then ``%APPDATA%\\pip\\pip.ini``),
  site (``<sys.prefix>/pip.conf`` or ``pip.ini``), then ``PIP_CONFIG_FILE``. When
  ``PIP_CONFIG_FILE`` names an existing file the user files are skipped; when it is
  ``os.devnull`` no file is read at all.
* A key (``section.name``) from a later file replaces the same key from an earlier one;
  then sections apply in the order ``[global]``, ``[install]``, environment, so an
  ``[install]`` value in any file beats a ``[global]`` value in any file, and ``PIP_*``
  variables beat both. Empty values are ignored.
* List options (extra-index-url, find-links, trusted-host) are whitespace-separated; a
  later setting replaces an earlier list, it does not extend it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from msgspec import Struct

from torchlock.credentials import redact
from torchlock.errors import InputError

ReadText = Callable[[str], "str | None"]
"""Returns a file's text, or None when there is no such file."""

_DEVNULL = {"Windows": "nul"}
_SECTIONS = ("global", "install")
_ENV_SOURCE = ":env:"
_LIST_KEYS = ("extra-index-url", "find-links", "trusted-host")
_KEYS = ("index-url", "no-index", "cert", *_LIST_KEYS)
_TRUE = {"y", "yes", "t", "true", "on", "1"}
_FALSE = {"n", "no", "f", "false", "off", "0"}


class PipSettings(Struct, frozen=True, kw_only=True):
    """The index-related settings pip would use for ``pip install``."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    no_index: bool = False
    cert: str | None = None  # a CA bundle that replaces the default certificates (--cert)
    sources: tuple[str, ...] = ()
    """Where each value came from, one per set key: "PIP_INDEX_URL" or
    "/etc/pip.conf [global] index-url"."""

    def source_of(self, key: str) -> str | None:
        """Where ``key`` (pip's option name, e.g. "index-url") came from, if set."""
        env_name = _env_name(key)
        for source in self.sources:
            if source == env_name or source.endswith(f"] {key}"):
                return source
        return None


def pip_config_files(
    env: Mapping[str, str],
    platform_system: str,
    home: str,
    prefix: str,
    *,
    dir_exists: Callable[[str], bool] | None = None,
) -> list[str]:
    """pip's configuration files, lowest precedence first, before PIP_CONFIG_FILE.

    ``platform_system`` is ``platform.system()`` ("Linux", "Darwin", "Windows", ...);
    ``home`` the user's home folder; ``prefix`` the ``sys.prefix`` of the Python whose pip
    is meant. ``dir_exists`` answers the one question pip asks of the disk on macOS (does
    ~/Library/Application Support/pip exist); without it that folder counts as absent.
    PIP_CONFIG_FILE, when set, is read after all of these (see :func:`read_pip_settings`).
    """
    global_files, user_files, site_file = _files_by_kind(
        env, platform_system, home, prefix, dir_exists
    )
    return [*global_files, *user_files, site_file]


def _files_by_kind(
    env: Mapping[str, str],
    platform_system: str,
    home: str,
    prefix: str,
    dir_exists: Callable[[str], bool] | None,
) -> tuple[list[str], list[str], str]:
    """(global files, user files, site file), each list lowest precedence first."""
    if platform_system == "Windows":
        join = _windows_join
        name = "pip.ini"
        program_data = env.get("PROGRAMDATA") or env.get("ALLUSERSPROFILE") or "C:\\ProgramData"
        app_data = env.get("APPDATA") or join(home, "AppData", "Roaming")
        return (
            [join(program_data, "pip", name)],
            [join(home, "pip", name), join(app_data, "pip", name)],
            join(prefix, name),
        )
    join = _posix_join
    name = "pip.conf"
    if platform_system == "Darwin":
        global_files = [join("/Library/Application Support/pip", name)]
        app_support = join(home, "Library/Application Support/pip")
        exists = dir_exists(app_support) if dir_exists is not None else False
        user_dir = app_support if exists else join(home, ".config/pip")
    else:
        xdg_dirs = env.get("XDG_CONFIG_DIRS", "")
        dirs = xdg_dirs.split(":") if xdg_dirs.strip() else ["/etc/xdg"]
        global_files = [join(_expand(d, home), "pip", name) for d in dirs]
        global_files.append(join("/etc", name))
        xdg_home = env.get("XDG_CONFIG_HOME", "")
        config_home = _expand(xdg_home, home) if xdg_home.strip() else join(home, ".config")
        user_dir = join(config_home, "pip")
    return global_files, [join(home, ".pip", name), join(user_dir, name)], join(prefix, name)


def read_pip_settings(
    env: Mapping[str, str],
    read_text: ReadText,
    platform_system: str,
    home: str,
    prefix: str,
    *,
    dir_exists: Callable[[str], bool] | None = None,
) -> PipSettings:
    """The index settings ``pip install`` would use, from files and PIP_* variables.

    ``read_text(path)`` returns a file's text or None when it does not exist. A file pip
    could not parse raises InputError naming the file (pip itself would refuse to run).
    """
    files = _files_to_read(env, read_text, platform_system, home, prefix, dir_exists)
    # key "section.name" -> (value, where); later files replace earlier ones
    merged: dict[str, tuple[str, str]] = {}
    for path, text in files:
        for section, name, value in _parse_ini(path, text):
            merged[f"{section}.{name}"] = (value, f"{path} [{section}] {name}")
    for var, value in env.items():
        if var.startswith("PIP_"):
            name = _normalize(var[4:])
            merged[f"{_ENV_SOURCE}.{name}"] = (value, var)

    chosen: dict[str, tuple[str, str]] = {}
    for section in (*_SECTIONS, _ENV_SOURCE):
        for key in _KEYS:
            entry = merged.get(f"{section}.{key}")
            if entry is not None and entry[0].strip():  # pip ignores empty values
                chosen[key] = entry

    def listed(key: str) -> tuple[str, ...]:
        entry = chosen.get(key)
        return tuple(entry[0].split()) if entry else ()

    index = chosen.get("index-url")
    no_index = chosen.get("no-index")
    cert = chosen.get("cert")
    return PipSettings(
        index_url=index[0].strip() if index else None,
        extra_index_urls=listed("extra-index-url"),
        find_links=listed("find-links"),
        trusted_hosts=listed("trusted-host"),
        no_index=_flag(*no_index) if no_index else False,
        cert=_expand(cert[0].strip(), home) if cert else None,
        sources=tuple(chosen[key][1] for key in _KEYS if key in chosen),
    )


def pip_default_index() -> str | None:
    """pip's built-in default index, read from the importable pip; None without one.

    This asks the pip that torchlock's own interpreter can import. When it returns None
    and the user configured no index, the caller must ask for ``--index-url``.
    """
    try:
        module = importlib.import_module("pip._internal.models.index")
        url = module.PyPI.simple_url
    except Exception:  # any failure of pip's internals means "unknown", never a crash
        return None
    return url if isinstance(url, str) and url else None


def default_index(settings: PipSettings, pip_default: str | None) -> tuple[str, str]:
    """(index URL, where it came from) for torchlock's general package index.

    The configured ``index-url`` wins; else pip's built-in default. InputError when pip
    is configured with no-index or when there is nothing to fall back on.
    """
    if settings.no_index:
        raise InputError(
            "pip is configured not to use any package index (no-index)",
            evidence=[f"set by {settings.source_of('no-index')}"],
            hint="give the index to use with --index-url",
        )
    if settings.index_url:
        return settings.index_url, settings.source_of("index-url") or "pip configuration"
    if pip_default:
        return pip_default, "pip's built-in default"
    raise InputError(
        "no package index is configured and pip's default index could not be read",
        evidence=["no index-url in the pip configuration files or PIP_INDEX_URL"],
        hint="give the index to use with --index-url",
    )


# --- helpers ----------------------------------------------------------------------------


def _files_to_read(
    env: Mapping[str, str],
    read_text: ReadText,
    platform_system: str,
    home: str,
    prefix: str,
    dir_exists: Callable[[str], bool] | None,
) -> list[tuple[str, str]]:
    """(path, text) of the files pip would load, lowest precedence first."""
    config_file = env.get("PIP_CONFIG_FILE")
    if config_file is not None and config_file == _DEVNULL.get(platform_system, "/dev/null"):
        return []  # pip reads no configuration file at all
    env_text = read_text(config_file) if config_file else None
    global_files, user_files, site_file = _files_by_kind(
        env, platform_system, home, prefix, dir_exists
    )
    if env_text is not None:
        user_files = []  # pip skips the user files when PIP_CONFIG_FILE names an existing file
    found: list[tuple[str, str]] = []
    for path in [*global_files, *user_files, site_file]:
        text = read_text(path)
        if text is not None:
            found.append((path, text))
    if config_file and env_text is not None:
        found.append((config_file, env_text))
    return found


def _parse_ini(path: str, text: str) -> list[tuple[str, str, str]]:
    import configparser  # ~1 ms to import: only for a pip configuration file that exists

    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        raise InputError(
            f"pip configuration file {path} cannot be parsed",
            evidence=[redact(line) for line in str(exc).splitlines()],
            hint="fix or remove the file; pip itself refuses to run with it",
        ) from None
    return [
        (section, _normalize(name), value)
        for section in parser.sections()
        if section in _SECTIONS
        for name, value in parser.items(section)
    ]


def _flag(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(
        f"pip setting no-index has a value that is not yes or no: {value!r}",
        evidence=[f"set by {where}"],
    )


def _normalize(name: str) -> str:
    """pip's key normalization: lower case, '_' to '-', no leading '--'."""
    key = name.lower().replace("_", "-")
    return key[2:] if key.startswith("--") else key


def _env_name(key: str) -> str:
    return "PIP_" + key.upper().replace("-", "_")


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path


def _posix_join(*parts: str) -> str:
    head, *rest = parts
    for part in rest:
        head = part if part.startswith("/") else head.rstrip("/") + "/" + part
    return head


def _windows_join(*parts: str) -> str:
    head, *rest = parts
    for part in rest:
        head = head.rstrip("\\/") + "\\" + part
    return head
