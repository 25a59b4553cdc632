"""Choosing the build on a detected host: a broken driver is said, not planned around."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.host import FakeHost, Reply, detect, fixture, smi
from torchlock.errors import DetectionError
from torchlock.target import Platform
from torchlock.workflows.selection import SelectionInputs, choose_build

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake programs are sh scripts")
LINUX = Platform.parse("linux-64")


def test_a_broken_driver_stops_the_choice_with_its_reason(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    smi(host, "h200-580.65.06")
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/broken-driver.txt"), exit_code=9)
    )
    inputs = SelectionInputs(platform=LINUX, python="3.10")
    with pytest.raises(DetectionError) as caught:
        choose_build(inputs, detect=lambda _given: detect(host))
    assert caught.value.message == "the NVIDIA driver is installed but not answering"
    assert "couldn't communicate" in str(caught.value)
    assert caught.value.exit_code == 5
    # said explicitly, the same host may still be planned for
    cpu = choose_build(
        SelectionInputs(platform=LINUX, python="3.10", driver="none"),
        detect=lambda _given: detect(host),
    )
    assert cpu.candidates
