"""The native format: golden file, round trip, PEP 751 validity, and every bad input."""

from __future__ import annotations

import pytest
import tomlkit
from packaging.pylock import Pylock

from tests.lockfiles.sample import golden, sample_lock
from torchlock.errors import LockfileError
from torchlock.lockfiles import pylock
from torchlock.lockfiles.model import platform_marker

PATH = "pylock.toml"


def rendered() -> str:
    return pylock.render(sample_lock())


def test_render_matches_the_golden_file() -> None:
    text = rendered()
    assert text == golden("pylock.toml", text)
    assert text.endswith("\n")
    assert "\r" not in text


def test_round_trip_is_byte_for_byte() -> None:
    text = golden("pylock.toml", rendered())
    lock = pylock.parse(text, PATH)
    assert lock == sample_lock()
    assert pylock.render(lock) == text


def test_packaging_reads_it_as_a_valid_pep_751_lock() -> None:
    data = tomlkit.parse(rendered()).unwrap()
    lock = Pylock.from_dict(data)
    assert str(lock.lock_version) == "1.0"
    assert lock.created_by == "torchlock"
    assert [str(m) for m in lock.environments or ()] == [
        str(platform_marker("linux-64")),
        str(platform_marker("win-64")),
    ]
    # a linux-64 environment selects the plain torch and the linux-only packages
    linux = {
        "sys_platform": "linux",
        "platform_machine": "x86_64",
        "python_full_version": "3.10.0",
        "python_version": "3.10",
        "implementation_name": "cpython",
        "platform_system": "Linux",
        "os_name": "posix",
    }
    from packaging.tags import Tag

    tags = [Tag("cp310", "cp310", "manylinux1_x86_64"), Tag("py3", "none", "any")]
    tags += [Tag("cp310", "cp310", "manylinux_2_17_x86_64")]
    tags += [Tag("py3", "none", "manylinux1_x86_64")]
    chosen = {p.name: str(p.version) for p, _ in lock.select(environment=linux, tags=tags)}  # type: ignore[arg-type]
    assert chosen["torch"] == "2.1.2"
    assert "triton" in chosen
    assert "nvidia-cublas-cu12" in chosen
    windows = {**linux, "sys_platform": "win32", "platform_machine": "AMD64"}
    windows |= {"platform_system": "Windows", "os_name": "nt"}
    tags = [Tag("cp310", "cp310", "win_amd64"), Tag("py3", "none", "any")]
    chosen = {p.name: str(p.version) for p, _ in lock.select(environment=windows, tags=tags)}  # type: ignore[arg-type]
    assert chosen["torch"] == "2.1.2+cu121"
    assert "triton" not in chosen
    assert "nvidia-cublas-cu12" not in chosen


def test_markers_select_per_platform() -> None:
    text = rendered()
    data = tomlkit.parse(text).unwrap()
    by_key = {(p["name"], p["version"]): p for p in data["packages"]}
    linux = 'sys_platform == "linux" and platform_machine == "x86_64"'
    assert by_key[("nvidia-cublas-cu12", "12.1.3.1")]["marker"] == linux
    assert by_key[("torch", "2.1.2")]["marker"] == linux
    assert "win32" in by_key[("torch", "2.1.2+cu121")]["marker"]
    assert "marker" not in by_key[("numpy", "1.26.4")]
    for entry in data["packages"]:
        for wheel in entry.get("wheels", []):
            assert len(wheel["hashes"]["sha256"]) == 64


def error(text: str) -> LockfileError:
    with pytest.raises(LockfileError) as caught:
        pylock.parse(text, PATH)
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(PATH + ": ")
    return caught.value


def test_truncated_file_names_the_missing_table() -> None:
    text = rendered()
    cut = text[: text.index("[tool.torchlock]")]
    found = error(cut)
    assert found.place == "tool"
    assert "truncated" in str(found)


def test_truncated_mid_line_names_line_and_column() -> None:
    text = rendered()
    found = error(text[: len(text) // 2])
    assert found.place is not None
    assert found.place.startswith("line ")
    assert "not valid TOML" in found.problem


def test_cut_inside_a_value_says_so_and_a_real_nul_is_not_taken_for_it() -> None:
    text = rendered()
    cut = text[: text.index(", hashes") + len(", hash")]  # inside an inline table
    assert "ends in the middle of a value" in error(cut).problem
    nul = text.replace('version = "', 'version = "\x00', 1)
    assert "ends in the middle" not in error(nul).problem


def test_empty_file() -> None:
    assert "empty" in str(error(""))


def test_wrong_lock_version() -> None:
    found = error(rendered().replace('lock-version = "1.0"', 'lock-version = "2.0"'))
    assert found.place == "lock-version"
    assert "'2.0'" in found.problem


def test_wrong_torchlock_format() -> None:
    found = error(rendered().replace("format = 1\n", "format = 99\n"))
    assert found.place == "tool.torchlock.format"
    assert "99" in found.problem


def test_missing_hash_names_the_package_and_file() -> None:
    text = rendered()
    name = "torch-2.1.2-cp310-cp310-manylinux1_x86_64.whl"
    start = text.index(f'{{name = "{name}"')
    hashes = text.index("hashes = ", start)
    end = text.index("}}", hashes) + 2
    found = error(text[:hashes] + "hashes = {}}" + text[end:])
    assert found.place == "packages[4] (torch).wheels[0].hashes"
    assert "sha256" in found.problem


def test_malformed_hash() -> None:
    text = rendered()
    digest = text.split('sha256 = "', 2)[1][:64]
    found = error(text.replace(digest, "abc", 1))
    assert found.place is not None
    assert found.place.endswith("hashes.sha256")


@pytest.mark.parametrize("name", ["../x", "torch", ""])
def test_a_bad_build_with_torch_name_in_a_lock_is_refused(name: str) -> None:
    text = rendered().replace(
        "[tool.torchlock.inputs]\n", f'[tool.torchlock.inputs]\nbuild-with-torch = ["{name}"]\n'
    )
    found = error(text)
    assert found.place == "tool.torchlock.inputs.build-with-torch"


def test_hand_edited_version_is_caught_by_the_content_digest() -> None:
    found = error(rendered().replace('version = "3.16.1"', 'version = "3.16.2"'))
    assert found.place == "tool.torchlock.content-digest"
    assert "edited by hand" in found.problem


def test_hand_edited_inputs_are_caught_by_the_inputs_digest() -> None:
    found = error(rendered().replace('variant = "cu121"\npolicy', 'variant = "cu118"\npolicy'))
    assert found.place == "tool.torchlock.inputs-digest"


def test_tampered_hash_is_caught() -> None:
    text = rendered()
    digest = text.split('sha256 = "', 2)[1][:64]
    tampered = ("0" if digest[0] != "0" else "1") + digest[1:]
    found = error(text.replace(digest, tampered, 1))
    assert found.place == "tool.torchlock.content-digest"


def test_unknown_target_platform() -> None:
    found = error(rendered().replace('platform = "win-64"', 'platform = "amiga-68k"'))
    assert found.place == "tool.torchlock.targets[1].platform"


def test_wrong_type() -> None:
    found = error(rendered().replace("format = 1\n", 'format = "one"\n'))
    assert found.place == "tool.torchlock.format"
    assert "integer" in found.problem


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("pylock.toml", True),
        ("pylock.cu121.toml", True),
        ("pylock.a.b.toml", False),
        ("lock.toml", False),
        ("pylock.toml.bak", False),
    ],
)
def test_lock_file_names(name: str, valid: bool) -> None:
    assert pylock.is_pylock_name(name) is valid


# --- the conda base ---------------------------------------------------------------------


def test_conda_base_round_trips_per_platform() -> None:
    lock = pylock.parse(rendered(), PATH)
    assert [(c.platform, c.name) for c in lock.conda] == [
        ("linux-64", "libzlib"),
        ("linux-64", "pip"),
        ("linux-64", "python"),
        ("win-64", "pip"),
        ("win-64", "python"),
        ("win-64", "ucrt"),
    ]
    assert {c.subdir for c in lock.conda_for("win-64")} == {"noarch", "win-64"}
    python = next(c for c in lock.conda_for("linux-64") if c.name == "python")
    assert python.url.startswith("https://conda.anaconda.org/conda-forge/linux-64/python-3.10.14")
    assert len(python.sha256) == 64
    assert len(python.md5) == 32
    assert python.depends == ("__glibc >=2.17,<3.0.a0", "libzlib >=1.2.13,<2.0.0a0")


def test_conda_base_is_covered_by_the_content_digest() -> None:
    text = rendered()
    found = error(text.replace('build = "h57928b3_1"', 'build = "h57928b3_2"'))
    assert found.place == "tool.torchlock.content-digest"


def test_malformed_conda_md5_names_the_package() -> None:
    text = rendered()
    md5 = text.split('md5 = "', 1)[1][:32]
    found = error(text.replace(md5, "xyz", 1))
    assert found.place == "tool.torchlock.conda-packages[0] (libzlib).md5"


def test_conda_package_for_another_platform() -> None:
    text = rendered()
    start = text.index("[[tool.torchlock.conda-packages]]")
    tail = text[start:].replace('platform = "linux-64"', 'platform = "osx-arm64"', 1)
    found = error(text[:start] + tail)
    assert found.place == "tool.torchlock.conda-packages[0] (libzlib).platform"


def test_a_lock_without_conda_base_says_why() -> None:
    from msgspec.structs import replace

    lock = sample_lock()
    bare = replace(lock, conda=(), inputs=replace(lock.inputs, no_conda=True))
    text = pylock.render(bare)
    assert "conda-packages" not in text
    assert "no-conda = true" in text
    again = pylock.parse(text, PATH)
    assert again == bare
    assert pylock.render(again) == text
    # the older form, an empty inline array, still reads
    old = text.replace("content-digest", "conda-packages = []\ncontent-digest")
    assert pylock.parse(old, PATH) == bare
