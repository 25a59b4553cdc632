"""The project spec (parse, render, merge, errors) and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from torchlock.errors import LockfileError
from torchlock.lockfiles import spec as specs
from torchlock.lockfiles.files import read_text, write_atomic

SPEC = """\
python = "3.10"
platforms = ["linux-64", "win-64"]
torch = ">=2.1"
requirements = ["numpy<2"]
conda-channels = ["conda-forge"]
lock = "pylock.cu121.toml"
"""


def test_parse_render_round_trip() -> None:
    loaded = specs.parse(SPEC, "torchlock.toml")
    assert loaded is not None
    assert loaded.spec.platforms == ("linux-64", "win-64")
    assert loaded.spec.requirements == (Requirement("numpy<2"),)
    again = specs.parse(specs.render(loaded.spec), "torchlock.toml")
    assert again is not None
    assert again.spec == loaded.spec
    assert specs.render(again.spec) == specs.render(loaded.spec)


def test_pyproject_without_table_has_no_spec() -> None:
    assert specs.parse('[project]\nname = "x"\n', "pyproject.toml") is None


@pytest.mark.parametrize(
    ("text", "place", "words"),
    [
        ('pyhton = "3.10"\n', "pyhton", "unknown key"),
        ('platforms = ["amiga"]\n', "platforms[0]", "unknown target platform"),
        ('requirements = ["numpy[[<2"]\n', "requirements[0]", "malformed requirement"),
        ("python = 3.10\n", "python", "expected a string"),
        ('lock = "lock.toml"\n', "lock", "PEP 751"),
        ('python = "3.10\n', "line 1, column", "not valid TOML"),
        ('python = "3.x"\n', "python", "malformed Python version"),
        ('gpu-cc = ["8.0", "x"]\n', "gpu-cc[1]", "malformed GPU compute capability"),
        ('torch = "garbage"\n', "torch", "malformed torch requirement"),
        ('policy = "fast"\n', "policy", "unknown policy"),
        ('driver = "525..85"\n', "driver", "driver"),
        ('mirror = "nosuch"\n', "mirror", "unknown mirror"),
        ('torch-index = "both"\n', "torch-index", "unknown torch-index"),
        ('index-url = "mirror.example/simple"\n', "index-url", "not an http(s) URL"),
        ('extra-index-urls = ["ftp://x"]\n', "extra-index-urls[0]", "not an http(s) URL"),
    ],
)
def test_bad_spec_names_the_place(text: str, place: str, words: str) -> None:
    with pytest.raises(LockfileError) as caught:
        specs.parse(text, "torchlock.toml")
    assert caught.value.place is not None
    assert caught.value.place.startswith(place)
    assert words in str(caught.value)
    assert "(at line" not in str(caught.value)  # the place is said once, as "line N, column M"


def test_bad_pyproject_table_names_tool_torchlock() -> None:
    with pytest.raises(LockfileError) as caught:
        specs.parse("[tool.torchlock]\nfoo = 1\n", "pyproject.toml")
    assert caught.value.place == "tool.torchlock.foo"


def test_merge_flags_over_spec() -> None:
    loaded = specs.parse(SPEC, "torchlock.toml")
    assert loaded is not None
    merged = specs.merge(loaded.spec, specs.ProjectSpec(python="3.11", platforms=("win-64",)))
    assert merged.python == "3.11"
    assert merged.platforms == ("win-64",)
    assert merged.torch == ">=2.1"
    inputs = specs.lock_inputs(merged, (), python="3.12", platform="linux-64", driver="auto")
    assert inputs.python == "3.11"
    assert inputs.platforms == ("win-64",)
    assert (
        inputs.digest
        != specs.lock_inputs(
            loaded.spec, (), python="3.12", platform="linux-64", driver="auto"
        ).digest
    )


def test_find_spec_prefers_torchlock_toml(tmp_path: Path) -> None:
    assert specs.find_spec(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "torchlock-demo"\n')
    assert specs.find_spec(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[tool.torchlock]\npython = "3.10"\n')
    assert specs.find_spec(tmp_path) == tmp_path / "pyproject.toml"
    (tmp_path / "torchlock.toml").write_text('python = "3.11"\n')
    assert specs.find_spec(tmp_path) == tmp_path / "torchlock.toml"


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "pylock.toml"
    write_atomic(target, "one\n")
    write_atomic(target, "two\n")
    assert target.read_bytes() == b"two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pylock.toml"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "pylock.toml"
    write_atomic(target, "old\n")

    class Boom(Exception):
        pass

    class Exploding(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:
            raise Boom

    with pytest.raises(Boom):
        write_atomic(target, Exploding("new\n"))
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pylock.toml"]


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root")
def test_unwritable_directory_is_a_lockfile_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(LockfileError):
            write_atomic(tmp_path / "pylock.toml", "x\n")
    finally:
        tmp_path.chmod(0o700)


def test_read_text_errors(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match="no such lockfile"):
        read_text(tmp_path / "pylock.toml")
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(LockfileError, match="not UTF-8"):
        read_text(tmp_path / "bad.toml")


def test_a_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    # Notepad and other Windows editors start UTF-8 files with one; TOML allows none
    (tmp_path / "torchlock.toml").write_bytes(b'\xef\xbb\xbfpython = "3.11"\n')
    loaded = specs.load(tmp_path / "torchlock.toml")
    assert loaded.spec.python == "3.11"
    (tmp_path / "torchlock.toml").unlink()
    (tmp_path / "pyproject.toml").write_bytes(b'\xef\xbb\xbf[tool.torchlock]\npython = "3.10"\n')
    assert specs.find_spec(tmp_path) == tmp_path / "pyproject.toml"
    assert specs.load(tmp_path / "pyproject.toml").spec.python == "3.10"
    (tmp_path / "mid.toml").write_bytes(b'a = "\xef\xbb\xbf"\n\xff')
    with pytest.raises(LockfileError, match=r"byte 10"):  # the place in the file as it is
        read_text(tmp_path / "mid.toml")


def test_a_lock_given_as_the_spec_is_named_for_what_it_is(tmp_path: Path) -> None:
    lock = Path(__file__).parent.parent / "fixtures" / "lockfiles" / "pylock.toml"
    with pytest.raises(LockfileError, match="this is a lockfile, not a project spec") as caught:
        specs.load(lock)
    assert caught.value.hint is not None
    assert "--lock" in caught.value.hint


def test_no_conda_is_a_spec_key_and_an_input() -> None:
    loaded = specs.parse('python = "3.10"\nno-conda = true\n', "torchlock.toml")
    assert loaded is not None
    assert loaded.spec.no_conda is True
    assert "no-conda = true" in specs.render(loaded.spec)
    inputs = specs.lock_inputs(loaded.spec, (), python="3.12", platform="linux-64", driver="auto")
    assert inputs.no_conda is True
    assert inputs.document()["no-conda"] is True
    with_conda = specs.lock_inputs(
        specs.merge(loaded.spec, specs.ProjectSpec(conda_channels=("conda-forge",))),
        (),
        python="3.12",
        platform="linux-64",
        driver="auto",
    )
    assert with_conda.no_conda is False  # --channel asks for the conda base again
    assert with_conda.conda_channels == ("conda-forge",)
    assert "no-conda" not in with_conda.document()
    with pytest.raises(LockfileError) as caught:
        specs.parse('no-conda = "yes"\n', "torchlock.toml")
    assert caught.value.place == "no-conda"


def test_extra_index_urls_are_a_spec_key_and_an_input() -> None:
    text = 'python = "3.10"\nextra-index-urls = ["https://private.example/simple"]\n'
    loaded = specs.parse(text, "torchlock.toml")
    assert loaded is not None
    assert loaded.spec.extra_index_urls == ("https://private.example/simple",)
    assert 'extra-index-urls = ["https://private.example/simple"]' in specs.render(loaded.spec)
    inputs = specs.lock_inputs(loaded.spec, (), python="3.10", platform="linux-64", driver="auto")
    assert inputs.document()["extra-index-urls"] == ["https://private.example/simple"]
    without = specs.lock_inputs(
        specs.ProjectSpec(python="3.10"), (), python="3.10", platform="linux-64", driver="auto"
    )
    assert "extra-index-urls" not in without.document()  # older locks keep their digest
    assert without.digest != inputs.digest
    with pytest.raises(LockfileError) as caught:
        specs.parse('extra-index-urls = "https://private.example/simple"\n', "torchlock.toml")
    assert caught.value.place == "extra-index-urls"


def test_lock_inputs_never_keep_credentials() -> None:
    secret = specs.ProjectSpec(
        python="3.10",
        index_url="https://alice:s3cret@mirror.example/simple",
        extra_index_urls=("https://tok3n@private.example/simple",),
        pytorch_index_url="https://bob:pw@mirror.example/whl/{variant}",
        conda_channels=("conda-forge", "https://carol:pw2@conda.example/channel"),
    )
    plain = specs.ProjectSpec(
        python="3.10",
        index_url="https://mirror.example/simple",
        extra_index_urls=("https://private.example/simple",),
        pytorch_index_url="https://mirror.example/whl/{variant}",
        conda_channels=("conda-forge", "https://conda.example/channel"),
    )
    made = [
        specs.lock_inputs(s, (), python="3.10", platform="linux-64", driver="auto")
        for s in (secret, plain)
    ]
    assert made[0] == made[1]
    assert made[0].digest == made[1].digest
    text = str(made[0].document())
    for word in ("alice", "s3cret", "tok3n", "bob", "carol", "pw"):
        assert word not in text
