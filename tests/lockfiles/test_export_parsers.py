"""Exports read back: render(parse(x)) == x for every golden file and export, and every bad
input is one LockfileError that names the file and the place in it."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from packaging.utils import canonicalize_name

from tests.lockfiles.sample import GOLDEN, file, package, sample_lock
from torchlock.errors import LockfileError
from torchlock.lockfiles import condalock, environment, requirements
from torchlock.lockfiles.model import Lock

SOURCE = "pylock.toml"


def _requirements(lock: Lock, platform: str | None) -> str:
    return requirements.render(lock, source=SOURCE, platform=platform)


def _conda_lock(lock: Lock, platform: str | None) -> str:
    return condalock.render(lock, source=SOURCE, platform=platform)


def _environment(lock: Lock, platform: str | None) -> str:
    return environment.render(lock, source=SOURCE, name="demo", platform=platform)


# (format module, export of a lock, golden files with the platform they were exported for)
FORMATS: dict[str, tuple[Any, Callable[[Lock, str | None], str]]] = {
    "requirements": (requirements, _requirements),
    "conda-lock": (condalock, _conda_lock),
    "environment": (environment, _environment),
}
GOLDENS = [
    ("requirements", "requirements.txt", None),
    ("requirements", "requirements.linux-64.txt", "linux-64"),
    ("conda-lock", "conda-lock.yml", None),
    ("environment", "environment.yml", None),
]


def golden_text(name: str) -> str:
    return (GOLDEN / name).read_bytes().decode("utf-8")


def other_lock() -> Lock:
    """The sample without a conda base, with two channels and a find-links package."""
    lock = sample_lock()
    extra = package(
        "tiny",
        "0.1",
        [file("tiny-0.1-py3-none-any.whl", "http://127.0.0.1:8002")],
        index="http://127.0.0.1:8002/links",
    )
    packages = tuple(sorted((*lock.packages, extra), key=lambda p: (p.name, p.version)))
    channels = ("conda-forge", "https://example.invalid/channel")
    inputs = msgspec.structs.replace(lock.inputs, conda_channels=channels)
    return msgspec.structs.replace(lock, conda=(), packages=packages, inputs=inputs)


def parse(fmt: str, text: str, source: str = "export") -> Any:
    return FORMATS[fmt][0].parse(text, source=source)


def error(fmt: str, text: str) -> LockfileError:
    with pytest.raises(LockfileError) as caught:
        parse(fmt, text, source="the-export")
    exc = caught.value
    assert exc.exit_code == 2
    assert exc.path == "the-export"
    assert str(exc).startswith("the-export: ")
    return exc


def attempt(module: Any, text: str, source: str) -> Any:
    """The parsed document, or None when parsing fails with a LockfileError naming ``source``."""
    try:
        return module.parse(text, source=source)
    except LockfileError as exc:
        failed = exc
    assert str(failed).startswith(f"{source}: "), str(failed)
    assert "\n" not in failed.problem, str(failed)  # one line says what is wrong
    return None


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "name", "platform"), GOLDENS)
def test_golden_files_round_trip_byte_for_byte(fmt: str, name: str, platform: str | None) -> None:
    module, _ = FORMATS[fmt]
    text = golden_text(name)
    document = module.parse(text, source=name)
    assert module.render(document) == text
    kwargs: dict[str, Any] = {"source": SOURCE, "platform": platform}
    if fmt == "environment":
        kwargs["name"] = "demo"
    assert document == module.from_lock(sample_lock(), **kwargs)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("platform", [None, "linux-64", "win-64"])
@pytest.mark.parametrize("make", [sample_lock, other_lock], ids=["sample", "other"])
def test_exports_of_sample_locks_round_trip(
    fmt: str, platform: str | None, make: Callable[[], Lock]
) -> None:
    module, export = FORMATS[fmt]
    text = export(make(), platform)
    assert module.render(module.parse(text, source="x")) == text


def test_parsed_documents_hold_typed_values() -> None:
    reqs = requirements.parse(golden_text("requirements.txt"), source="r.txt")
    assert reqs.platform is None
    assert reqs.python == "3.10"
    assert reqs.index.extra_index_urls == ("http://127.0.0.1:8001/whl/cu121",)
    torch = [r for r in reqs.requirements if r.name == canonicalize_name("torch")]
    assert [str(r.version) for r in torch] == ["2.1.2", "2.1.2+cu121"]
    assert torch[1].marker is not None
    assert torch[1].marker.evaluate({"sys_platform": "win32", "platform_machine": "AMD64"})
    env = environment.parse(golden_text("environment.yml"), source="environment.yml")
    assert env.name == "demo"
    assert [str(c) for c in env.conda] == ["python=3.10.14", "pip=24.2"]
    assert env.conda[0] == environment.CondaSpec(name="python", version="3.10.14")
    conda = condalock.parse(golden_text("conda-lock.yml"), source="conda-lock.yml")
    assert conda.channels == (condalock.Channel(url="conda-forge"),)
    assert conda.sources == (SOURCE,)
    assert {e.manager for e in conda.packages} == {condalock.Manager.CONDA, condalock.Manager.PIP}


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "name", "platform"), GOLDENS)
def test_every_truncation_is_an_error_or_a_whole_shorter_file(
    fmt: str, name: str, platform: str | None
) -> None:
    """A cut anywhere inside a line or an entry is an error; a cut exactly between two
    entries leaves a complete, shorter file (nothing in these formats counts entries)."""
    module, _ = FORMATS[fmt]
    text = golden_text(name)
    for cut in range(len(text)):
        document = attempt(module, text[:cut], name)
        if document is None:
            continue
        assert text[cut - 1] == "\n", cut  # only at a line boundary
        assert module.render(document) == text[:cut]


@pytest.mark.parametrize(("fmt", "name", "platform"), GOLDENS)
def test_whatever_parses_renders_back_the_same_bytes(
    fmt: str, name: str, platform: str | None
) -> None:
    """Random edits of a golden file: each is rejected, or round-trips exactly."""
    module, _ = FORMATS[fmt]
    text = golden_text(name)
    rng = random.Random(f"{name}-4")
    alphabet = ' \t\n"\\:-#=;{}[]0aZ.'
    for _ in range(400):
        at = rng.randrange(len(text))
        edit = rng.choice(["delete", "insert", "replace"])
        char = rng.choice(alphabet)
        if edit == "delete":
            changed = text[:at] + text[at + 1 :]
        elif edit == "insert":
            changed = text[:at] + char + text[at:]
        else:
            changed = text[:at] + char + text[at + 1 :]
        document = attempt(module, changed, name)
        if document is None:
            continue
        assert module.render(document) == changed, (edit, at, char)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "\n\n",
        "\x00\x01binary",
        "hello world\n",
        'lock-version = "1.0"\n',
        "version: 1\npackage: &a []\n",
        "{version: 1}\n",
    ],
)
def test_garbage_is_one_clear_error(fmt: str, garbage: str) -> None:
    exc = error(fmt, garbage)
    assert exc.problem


def test_requirements_missing_hash_names_the_line() -> None:
    text = golden_text("requirements.txt")
    start = text.index("torch==2.1.2 ; ")
    line = text[: start + 1].count("\n") + 1
    end = text.index("\n", text.index("--hash", start))
    bad = text[:start] + text[start:end].split(" \\")[0] + text[end:]
    exc = error("requirements", bad)
    assert exc.place == f"line {line}"
    assert "torch==2.1.2 has no --hash" in exc.problem


def test_requirements_bad_hash_header_and_truncation() -> None:
    text = golden_text("requirements.txt")
    exc = error("requirements", text.replace("--hash=sha256:069281c7", "--hash=md5:069281c7"))
    assert "expected --hash=sha256:<64 hex digits>" in exc.problem
    assert exc.place == "line 6"
    exc = error("requirements", text.replace("every target", "every target!").replace("#", "%", 1))
    assert exc.place == "line 1"
    assert "not a torchlock requirements export" in exc.problem
    exc = error("requirements", text[: text.index("\n", text.index("triton==")) + 1])
    assert "the file ends after a continuation" in exc.problem
    exc = error("requirements", text[:-5])
    assert "looks truncated" in exc.problem
    exc = error("requirements", text.replace("numpy==1.26.4", "numpy==1.26.4.x!"))
    assert "malformed version" in exc.problem
    exc = error("requirements", text.replace("--index-url", "--index-urls"))
    assert exc.place == "line 3"
    exc = error("requirements", text.replace("mpmath==", "mpmath>="))
    assert "expected 'name==version'" in exc.problem


def test_requirements_in_another_form_is_rejected_at_the_line() -> None:
    text = golden_text("requirements.txt")
    exc = error("requirements", text.replace("    --hash=sha256:069", "  --hash=sha256:069"))
    assert exc.place == "line 7"
    exc = error("requirements", text.replace('sys_platform == "linux"', "sys_platform=='linux'"))
    assert exc.problem == "not in the form torchlock writes"
    assert exc.place == "line 14"


def test_conda_lock_wrong_version_field() -> None:
    text = golden_text("conda-lock.yml")
    for version, shown in (("2", "2"), ('"1"', "'1'"), ("true", "True")):
        exc = error("conda-lock", text.replace("\nversion: 1\n", f"\nversion: {version}\n"))
        assert exc.place == "version"
        assert f"conda-lock format version {shown} is not supported" in exc.problem


def test_conda_lock_missing_hash_names_the_entry() -> None:
    text = golden_text("conda-lock.yml")
    start = text.index('      md5: "70605700')
    bad = text[:start] + text[text.index("\n", start) + 1 :]
    exc = error("conda-lock", bad)
    assert exc.place == "package[0] (libzlib).hash.md5"
    assert exc.problem == "missing"
    start = text.index('    hash:\n      sha256: "0692')
    bad = text[:start] + text[start:].replace("    hash:\n      sha256: ", "    hash: {}\n#", 1)
    exc = error("conda-lock", bad)
    assert exc.place is not None
    assert exc.place.startswith("line ")  # a comment inside the document
    bad = text[:start] + "    hash: {}\n" + text[text.index("\n", start + 20) + 1 :]
    exc = error("conda-lock", bad)
    assert exc.place == "package[6] (filelock).hash.sha256"
    assert exc.problem == "missing"


def test_conda_lock_bad_values_name_the_key_path() -> None:
    text = golden_text("conda-lock.yml")
    exc = error("conda-lock", text.replace('manager: "pip"', 'manager: "npm"', 1))
    assert exc.place == "package[6] (filelock).manager"
    exc = error("conda-lock", text.replace('platform: "win-64"', 'platform: "osx-64"', 1))
    assert exc.place == "package[2] (pip).platform"
    exc = error("conda-lock", text.replace('sha256: "04467f6e', 'sha256: "04467F6E', 1))
    assert exc.place == "package[0] (libzlib).hash.sha256"
    assert "not a sha256 digest" in exc.problem
    exc = error("conda-lock", text.replace("    optional: false\n", "    optional: 0\n", 1))
    assert exc.place == "package[0] (libzlib).optional"
    exc = error("conda-lock", text.replace("    category:", "    channel:", 1))
    assert exc.place == "package[0].channel"
    assert "unknown key" in exc.problem
    exc = error("conda-lock", text.replace("\nmetadata:\n", "\nmeta:\n"))
    assert exc.place == "metadata"
    exc = error("conda-lock", text.replace('    build: "hb9d3cd8_2"\n', "", 1))
    assert exc.place == "package[0] (libzlib).build"


def test_yaml_outside_the_subset_is_rejected_at_the_line() -> None:
    text = golden_text("conda-lock.yml")
    for bad, line, problem in (
        (text.replace("  platforms:\n", "  platforms:\n\n"), 12, "blank line"),
        (text.replace('  - name: "libzlib"', "  - name: libzlib"), 17, "unsupported value"),
        (text.replace('  - name: "libzlib"', "  - name: 'libzlib'"), 17, "unsupported value"),
        (text.replace('    version: "1.3.1"', '\tversion: "1.3.1"'), 18, "tab character"),
        (text.replace('    version: "1.3.1"', '     version: "1.3.1"'), 18, "indentation"),
        (text.replace('    version: "1.3.1"', '    version: "1.3.1'), 18, "malformed string"),
        (text.replace('    version: "1.3.1"', '    name: "1.3.1"'), 18, "duplicate key"),
        (text.replace("      used_env_vars: []", "      used_env_vars: [x]"), 10, "unsupported"),
        (text.replace("\n", "\r\n"), None, "carriage return"),
    ):
        exc = error("conda-lock", bad)
        assert problem in exc.problem, exc
        assert exc.place == (None if line is None else f"line {line}"), exc


def test_environment_bad_input_names_the_place() -> None:
    text = golden_text("environment.yml")
    exc = error("environment", text.replace(" --hash=sha256:069281c7", " --hash=sha256:zz"))
    assert exc.place == "dependencies[2].pip[2]"
    assert "filelock==3.16.1: expected --hash=sha256" in exc.problem
    start = text.index('      - "filelock')
    hashless = text[:start] + '      - "filelock==3.16.1"\n' + text[text.index("\n", start) + 1 :]
    exc = error("environment", hashless)
    assert exc.place == "dependencies[2].pip[2]"
    assert "has no --hash" in exc.problem
    exc = error("environment", text.replace('  - "pip=24.2"', '  - "pip=="'))
    assert exc.place == "dependencies[1]"
    exc = error("environment", text.replace("  - pip:\n", "  - pipx:\n"))
    assert exc.place == "dependencies[2].pip"
    assert exc.problem == "missing"
    exc = error("environment", text.replace("# Create:", "# Build:"))
    assert exc.place == "line 1"
    exc = error("environment", text.replace('"--index-url ', '"--index ', 1))
    assert exc.place == "dependencies[2].pip[0]"
    exc = error("environment", text[: text.index("  - pip:")])
    assert "the last dependency is not the pip section" in exc.problem


def test_errors_read_as_one_line_with_the_file_and_place() -> None:
    text = golden_text("conda-lock.yml").replace("\nversion: 1\n", "\nversion: 2\n")
    with pytest.raises(LockfileError) as caught:
        condalock.parse(text, source="conda-lock.yml")
    first = str(caught.value).splitlines()[0]
    assert first == (
        "conda-lock.yml: version: conda-lock format version 2 is not supported "
        "(torchlock writes version 1)"
    )
