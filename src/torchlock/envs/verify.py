"""Verify an environment: run the probe in its interpreter and judge what it found."""

from __future__ import annotations

from collections.abc import Sequence

from torchlock.envs.knowledge import KnowledgeBase, load_knowledge
from torchlock.envs.probe import DEFAULT_TIMEOUT, run_probe
from torchlock.envs.report import Expectations, Report, evaluate
from torchlock.matrix.load import load_matrix
from torchlock.matrix.model import Matrix
from torchlock.system.model import HostReport
from torchlock.system.runner import Runner


def verify_environment(
    python: str,
    *,
    runner: Runner,
    host: HostReport,
    expect: Expectations,
    matrix: Matrix | None = None,
    knowledge: KnowledgeBase | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    notes: Sequence[str] = (),
) -> Report:
    """The report of every check on the environment whose interpreter is ``python``."""
    result = run_probe(python, runner, timeout=timeout)
    return evaluate(
        result,
        host=host,
        expect=expect,
        matrix=matrix if matrix is not None else load_matrix(),
        knowledge=knowledge if knowledge is not None else load_knowledge(),
        python=python,
        notes=notes,
    )
