"""The shipped knowledge base: valid, cited, and it recognises the messages users meet."""

from __future__ import annotations

import pytest

from torchlock.envs.knowledge import build_knowledge, load_knowledge
from torchlock.errors import DataError

# Messages as users report them (see each entry's sources), and the entry that must explain them.
MESSAGES = [
    (
        "ImportError: /usr/local/lib/python3.10/dist-packages/torch/lib/../../nvidia/cusparse/lib/"
        "libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12",
        "nvjitlink-undefined-symbol",
    ),
    (
        "libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12",
        "nvjitlink-undefined-symbol",
    ),
    (
        "RuntimeError: The NVIDIA driver on your system is too old (found version 11040). Please "
        "update your GPU driver by downloading and installing a new version",
        "driver-too-old",
    ),
    (
        "RuntimeError: cuda runtime error (35) : CUDA driver version is insufficient for CUDA "
        "runtime version at /pytorch/aten/src/THC/THCGeneral.cpp:74",
        "driver-insufficient",
    ),
    (
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "gpu-arch-unsupported",
    ),
    (
        "NVIDIA GeForce RTX 3080 with CUDA capability sm_86 is not compatible with the current "
        "PyTorch installation.",
        "gpu-arch-unsupported",
    ),
    (
        "GeForce RTX 5090 D with CUDA capability sm_120 is not compatible with the current PyTorch "
        "installation.",
        "gpu-arch-unsupported",
    ),
    ("RuntimeError: operator torchvision::nms does not exist", "torchvision-nms-missing"),
    ("RuntimeError: No such operator torchvision::nms", "torchvision-nms-missing"),
    (
        "ImportError: libcudnn.so.8: cannot open shared object file: No such file or directory",
        "cudnn-missing",
    ),
    (
        "OSError: libcublas.so.11: cannot open shared object file: No such file or directory",
        "cuda-library-missing",
    ),
    (
        "OSError: libcublasLt.so.11: cannot open shared object file: No such file or directory",
        "cuda-library-missing",
    ),
    ("AssertionError: Torch not compiled with CUDA enabled", "cpu-only-build"),
    (
        "torch.cuda.is_available() is False and torch.version.cuda is None (CPU-only build)",
        "cpu-only-build",
    ),
    (
        "LD_LIBRARY_PATH entry /usr/local/cuda-12.1/lib64 shadows libnvJitLink.so.12 that the "
        "wheels bring",
        "cuda-libraries-shadowed",
    ),
]


@pytest.mark.parametrize(("message", "failure_id"), MESSAGES)
def test_known_messages(message: str, failure_id: str) -> None:
    matches = load_knowledge().match([message])
    assert [m.failure.id for m in matches] == [failure_id]


def test_unrelated_messages_match_nothing() -> None:
    knowledge = load_knowledge()
    assert knowledge.match(["Failed to initialize NumPy: No module named 'numpy'", ""]) == ()


def test_every_entry_is_complete_and_cited() -> None:
    knowledge = load_knowledge()
    assert len(knowledge.failures) >= 9
    for failure in knowledge.failures:
        assert failure.cause
        assert failure.fix
        assert failure.title
        assert failure.sources
        assert all(s.startswith("https://github.com/") for s in failure.sources)
    assert knowledge.get("driver-too-old") is not None
    assert knowledge.get("nope") is None


def test_match_reports_the_matched_text() -> None:
    (match,) = load_knowledge().match(["x: undefined symbol: __nvJitLinkAddData_12_1, version"])
    assert match.matched == "undefined symbol: __nvJitLinkAddData_12_1"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "expected an object with a 'failures' list"),
        ({"failures": [1]}, "failures[0]: expected an object"),
        ({"failures": [{"id": "a", "title": "t", "patterns": ["("]}]}, "bad pattern"),
        (
            {
                "failures": [
                    {
                        "id": "a",
                        "title": "t",
                        "patterns": ["x"],
                        "cause": "c",
                        "fix": "f",
                        "sources": ["http://example.com"],
                    }
                ]
            },
            "expected an https URL",
        ),
        ({"failures": [{"id": "a", "title": "t", "patterns": []}]}, "non-empty list"),
    ],
)
def test_broken_documents(document: object, problem: str) -> None:
    with pytest.raises(DataError) as caught:
        build_knowledge(document)
    assert str(caught.value).startswith("failures.json: ")
    assert problem in str(caught.value)


def test_duplicate_ids() -> None:
    entry = {
        "id": "a",
        "title": "t",
        "patterns": ["x"],
        "cause": "c",
        "fix": "f",
        "sources": ["https://example.com"],
    }
    with pytest.raises(DataError, match="appears twice"):
        build_knowledge({"failures": [entry, entry]})


def test_fallback_marks_what_an_older_build_can_fix() -> None:
    knowledge = load_knowledge()
    fixable = {f.id for f in knowledge.failures if f.fallback}
    assert fixable == {"driver-too-old", "driver-insufficient", "gpu-arch-unsupported"}
    entry = {
        "id": "x",
        "title": "x",
        "patterns": ["x"],
        "cause": "x",
        "fix": "x",
        "sources": ["https://example.org/x"],
        "fallback": "yes",
    }
    with pytest.raises(DataError, match=r"failures\[0\]\.fallback: expected true or false"):
        build_knowledge({"failures": [entry]})
