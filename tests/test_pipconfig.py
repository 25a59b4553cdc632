"""Reading the index settings the way pip does, from plain values (no real files)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from torchlock.errors import InputError
from torchlock.pipconfig import (
    PipSettings,
    default_index,
    pip_config_files,
    pip_default_index,
    read_pip_settings,
)

HOME = "/home/u"
PREFIX = "/opt/venv"
GLOBAL = "/etc/pip.conf"
XDG_GLOBAL = "/etc/xdg/pip/pip.conf"
USER = "/home/u/.config/pip/pip.conf"
LEGACY_USER = "/home/u/.pip/pip.conf"
SITE = "/opt/venv/pip.conf"

MIRROR_A = "https://mirror-a.example/simple"
MIRROR_B = "https://mirror-b.example/simple"
MIRROR_C = "https://mirror-c.example/simple"


def _settings(
    files: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    system: str = "Linux",
    home: str = HOME,
    prefix: str = PREFIX,
) -> PipSettings:
    def read(path: str) -> str | None:
        return files.get(path)

    return read_pip_settings(env or {}, read, system, home, prefix)


def _ini(section: str, **values: str) -> str:
    lines = [f"[{section}]"]
    lines.extend(f"{key.replace('_', '-')} = {value}" for key, value in values.items())
    return "\n".join(lines) + "\n"


# --- file locations ------------------------------------------------------------------------


def test_linux_files_in_pip_order() -> None:
    assert pip_config_files({}, "Linux", HOME, PREFIX) == [
        XDG_GLOBAL,
        GLOBAL,
        LEGACY_USER,
        USER,
        SITE,
    ]


def test_xdg_variables_move_global_and_user_files() -> None:
    env = {"XDG_CONFIG_DIRS": "/a:/b", "XDG_CONFIG_HOME": "/cfg"}
    assert pip_config_files(env, "Linux", HOME, PREFIX) == [
        "/a/pip/pip.conf",
        "/b/pip/pip.conf",
        GLOBAL,
        LEGACY_USER,
        "/cfg/pip/pip.conf",
        SITE,
    ]


def test_windows_files() -> None:
    env = {"APPDATA": "C:\\Users\\u\\AppData\\Roaming", "PROGRAMDATA": "C:\\ProgramData"}
    assert pip_config_files(env, "Windows", "C:\\Users\\u", "C:\\Python312") == [
        "C:\\ProgramData\\pip\\pip.ini",
        "C:\\Users\\u\\pip\\pip.ini",
        "C:\\Users\\u\\AppData\\Roaming\\pip\\pip.ini",
        "C:\\Python312\\pip.ini",
    ]


def test_windows_settings_come_from_pip_ini() -> None:
    env = {"APPDATA": "C:\\Users\\u\\AppData\\Roaming"}
    files = {"C:\\Users\\u\\AppData\\Roaming\\pip\\pip.ini": _ini("global", index_url=MIRROR_A)}
    settings = _settings(files, env, system="Windows", home="C:\\Users\\u", prefix="C:\\Py")
    assert settings.index_url == MIRROR_A
    assert settings.source_of("index-url") == (
        "C:\\Users\\u\\AppData\\Roaming\\pip\\pip.ini [global] index-url"
    )


def test_macos_prefers_application_support_when_it_exists() -> None:
    app = "/Users/u/Library/Application Support/pip"
    without = pip_config_files({}, "Darwin", "/Users/u", PREFIX)
    assert without[-2] == "/Users/u/.config/pip/pip.conf"
    assert without[0] == "/Library/Application Support/pip/pip.conf"
    with_dir = pip_config_files({}, "Darwin", "/Users/u", PREFIX, dir_exists=lambda p: p == app)
    assert with_dir[-2] == f"{app}/pip.conf"


# --- precedence --------------------------------------------------------------------------


def test_nothing_configured() -> None:
    assert _settings({}) == PipSettings()


def test_user_file_overrides_global_file() -> None:
    files = {GLOBAL: _ini("global", index_url=MIRROR_A), USER: _ini("global", index_url=MIRROR_B)}
    settings = _settings(files)
    assert settings.index_url == MIRROR_B
    assert settings.sources == (f"{USER} [global] index-url",)


def test_site_file_overrides_user_file_and_new_user_file_overrides_legacy() -> None:
    files = {
        LEGACY_USER: _ini("global", index_url=MIRROR_A),
        USER: _ini("global", index_url=MIRROR_B),
    }
    assert _settings(files).index_url == MIRROR_B
    files[SITE] = _ini("global", index_url=MIRROR_C)
    assert _settings(files).index_url == MIRROR_C


def test_environment_overrides_files() -> None:
    files = {USER: _ini("install", index_url=MIRROR_A)}
    settings = _settings(files, {"PIP_INDEX_URL": MIRROR_B})
    assert settings.index_url == MIRROR_B
    assert settings.source_of("index-url") == "PIP_INDEX_URL"


def test_empty_environment_value_is_ignored() -> None:
    files = {USER: _ini("global", index_url=MIRROR_A)}
    assert _settings(files, {"PIP_INDEX_URL": ""}).index_url == MIRROR_A


def test_install_section_overrides_global_section_even_from_a_lower_file() -> None:
    # pip merges files first, then applies [global], then [install]
    files = {GLOBAL: _ini("install", index_url=MIRROR_A), SITE: _ini("global", index_url=MIRROR_B)}
    settings = _settings(files)
    assert settings.index_url == MIRROR_A
    assert settings.source_of("index-url") == f"{GLOBAL} [install] index-url"


def test_other_command_sections_are_ignored() -> None:
    files = {USER: _ini("download", index_url=MIRROR_A) + _ini("global", index_url=MIRROR_B)}
    assert _settings(files).index_url == MIRROR_B


def test_keys_are_normalized_like_pip() -> None:
    files = {USER: "[global]\nIndex_URL = " + MIRROR_A + "\n"}
    assert _settings(files).index_url == MIRROR_A


def test_pip_config_file_is_read_last_and_hides_user_files() -> None:
    files = {
        GLOBAL: _ini("global", extra_index_url=MIRROR_C),
        USER: _ini("global", index_url=MIRROR_A),
        SITE: _ini("global", trusted_host="site.example"),
        "/tmp/custom.conf": _ini("global", index_url=MIRROR_B, trusted_host="custom.example"),
    }
    settings = _settings(files, {"PIP_CONFIG_FILE": "/tmp/custom.conf"})
    assert settings.index_url == MIRROR_B
    assert settings.trusted_hosts == ("custom.example",)
    assert settings.extra_index_urls == (MIRROR_C,)  # global files are still read


def test_missing_pip_config_file_keeps_user_files() -> None:
    files = {USER: _ini("global", index_url=MIRROR_A)}
    assert _settings(files, {"PIP_CONFIG_FILE": "/nope.conf"}).index_url == MIRROR_A


def test_pip_config_file_devnull_disables_all_files() -> None:
    asked_files = {GLOBAL: _ini("global", index_url=MIRROR_A)}
    asked: list[str] = []

    def read(path: str) -> str | None:
        asked.append(path)
        return asked_files.get(path)

    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_FIND_LINKS": "https://wheels.example/"}
    settings = read_pip_settings(env, read, "Linux", HOME, PREFIX)
    assert asked == []
    assert settings.index_url is None
    assert settings.find_links == ("https://wheels.example/",)
    windows = read_pip_settings({"PIP_CONFIG_FILE": "nul"}, read, "Windows", "C:\\u", "C:\\p")
    assert windows == PipSettings()


# --- lists and flags -------------------------------------------------------------------------


def test_extra_index_lists_split_on_whitespace() -> None:
    files = {USER: f"[global]\nextra-index-url =\n    {MIRROR_A}\n    {MIRROR_B}\n"}
    assert _settings(files).extra_index_urls == (MIRROR_A, MIRROR_B)
    env = {"PIP_EXTRA_INDEX_URL": f"  {MIRROR_B}\t{MIRROR_C} "}
    # a later setting replaces the list, it does not extend it
    assert _settings(files, env).extra_index_urls == (MIRROR_B, MIRROR_C)


def test_find_links_and_trusted_hosts() -> None:
    env = {
        "PIP_FIND_LINKS": "https://w.example/a/ https://w.example/b/",
        "PIP_TRUSTED_HOST": "h1 h2",
    }
    settings = _settings({}, env)
    assert settings.find_links == ("https://w.example/a/", "https://w.example/b/")
    assert settings.trusted_hosts == ("h1", "h2")
    assert settings.sources == ("PIP_FIND_LINKS", "PIP_TRUSTED_HOST")


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("yes", True), ("off", False)])
def test_pip_no_index(value: str, expected: bool) -> None:
    assert _settings({}, {"PIP_NO_INDEX": value}).no_index is expected


def test_pip_no_index_garbage_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        _settings({}, {"PIP_NO_INDEX": "maybe"})
    assert "PIP_NO_INDEX" in str(info.value)


def test_malformed_file_is_an_input_error_naming_the_file() -> None:
    files = {USER: "index-url = https://user:secret@mirror.example/simple\n"}
    with pytest.raises(InputError) as info:
        _settings(files)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert USER in message.splitlines()[0]
    assert "secret" not in message


def test_duplicate_key_is_an_input_error() -> None:
    files = {GLOBAL: f"[global]\nindex-url = {MIRROR_A}\nindex-url = {MIRROR_B}\n"}
    with pytest.raises(InputError, match=r"/etc/pip\.conf"):
        _settings(files)


# --- the default index -------------------------------------------------------------------------


def test_default_index_prefers_configuration() -> None:
    settings = _settings({}, {"PIP_INDEX_URL": MIRROR_A})
    assert default_index(settings, MIRROR_B) == (MIRROR_A, "PIP_INDEX_URL")


def test_default_index_falls_back_to_pips_default() -> None:
    assert default_index(PipSettings(), MIRROR_B) == (MIRROR_B, "pip's built-in default")


def test_default_index_without_anything_asks_for_index_url() -> None:
    with pytest.raises(InputError) as info:
        default_index(PipSettings(), None)
    assert "--index-url" in str(info.value)


def test_default_index_with_no_index_asks_for_index_url() -> None:
    settings = _settings({}, {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": MIRROR_A})
    with pytest.raises(InputError) as info:
        default_index(settings, MIRROR_B)
    assert "PIP_NO_INDEX" in str(info.value)


def test_pip_default_index_has_the_shape_of_a_simple_index() -> None:
    pytest.importorskip("pip")
    url = pip_default_index()
    assert url is not None
    assert url.startswith("https://")
    assert url.rstrip("/").endswith("/simple")


def test_cert_from_a_file_and_from_the_environment() -> None:
    files = {USER: _ini("global", cert="~/corp/ca-bundle.pem")}
    settings = _settings(files)
    assert settings.cert == f"{HOME}/corp/ca-bundle.pem"
    assert settings.source_of("cert") == f"{USER} [global] cert"
    assert _settings(files, {"PIP_CERT": "/etc/corp.pem"}).cert == "/etc/corp.pem"
    assert _settings({}).cert is None
