"""Running a :class:`Plan`: steps in order, satisfied ones skipped, the first failure stops it.

Everything outside is passed in: the runner that starts each command (the only
way anything is run), the state directory (log and state file), whether we are
root, and the clock for log lines. Re-running after a fix continues where the
last run stopped, because every finished step's check now passes.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from msgspec import Struct

from torchlock.errors import TorchlockError
from torchlock.system.runner import Completed, RunResult, StreamingRunner
from torchlock.system.steps import Plan, Shell, Step, shell_argv

LOG_NAME = "apply.log"
STATE_NAME = "state.json"
TAIL_LINES = 15
CHECK_TIMEOUT = 120.0
COMMAND_TIMEOUT = 4 * 3600.0  # a CUDA runfile is 4 GB and unpacks for minutes


class ApplyError(TorchlockError):
    """A step failed; the message names it, the command, the exit status and the output's end."""

    exit_code = 1


class StepStatus(enum.Enum):
    SKIPPED = "skipped"  # its check passed before anything ran
    DONE = "done"
    FAILED = "failed"


class Privilege(Struct, frozen=True, kw_only=True):
    """How this process may run a step that needs root (Administrator on Windows)."""

    is_root: bool
    sudo: str | None = None  # the sudo program, when not root on Linux


class StepOutcome(Struct, frozen=True, kw_only=True):
    id: str
    title: str
    status: StepStatus
    detail: str = ""


class ApplyResult(Struct, frozen=True, kw_only=True):
    component: str
    outcomes: tuple[StepOutcome, ...]
    reboot_required: bool
    log: Path
    resumed_from: str | None = None  # the step the previous run stopped at


def plan_key(plan: Plan) -> str:
    return f"{plan.component}@{plan.os.value}"


def _tail(output: str, count: int = TAIL_LINES) -> list[str]:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-count:]


def _first_line(command: str) -> str:
    first = command.splitlines()[0] if command else command
    return first + (" ..." if "\n" in command else "")


class _Session:
    def __init__(
        self,
        *,
        plan: Plan,
        runner: StreamingRunner,
        state_dir: Path,
        privilege: Privilege,
        clock: Callable[[], str],
        report: Callable[[str], None],
        check_timeout: float,
        command_timeout: float,
    ) -> None:
        self.plan = plan
        self.runner = runner
        self.state_dir = state_dir
        self.privilege = privilege
        self.clock = clock
        self.report = report
        self.check_timeout = check_timeout
        self.command_timeout = command_timeout
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = state_dir / LOG_NAME
        self.state_path = state_dir / STATE_NAME

    # -- log and state ---------------------------------------------------------------------

    def log(self, line: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{self.clock()} {line}\n")

    def read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_state(self, status: str, step: str | None) -> None:
        data = self.read_state()
        data[plan_key(self.plan)] = {
            "version": self.plan.version,
            "source": self.plan.source,
            "status": status,
            "step": step,
            "at": self.clock(),
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.state_path)

    def previous_stop(self) -> str | None:
        entry = self.read_state().get(plan_key(self.plan))
        if isinstance(entry, dict) and entry.get("status") in ("failed", "reboot"):
            step = entry.get("step")
            return step if isinstance(step, str) else None
        return None

    # -- running ---------------------------------------------------------------------------

    def argv(self, step: Step, command: str, *, elevate: bool) -> tuple[str, ...]:
        argv = shell_argv(step.shell, command)
        if elevate and step.needs_root and not self.privilege.is_root:
            if step.shell is Shell.BASH and self.privilege.sudo:
                return (self.privilege.sudo, "-n", *argv)
            self.fail(
                step,
                f"step {step.id!r} needs root and this process is not root",
                evidence=[f"step: {step.title}"],
                hint=(
                    "run it again from an Administrator PowerShell"
                    if step.shell is Shell.POWERSHELL
                    else "run it as root, or install sudo (it is used as `sudo -n`)"
                ),
            )
        return argv

    def run(self, argv: tuple[str, ...], timeout: float) -> RunResult:
        def sink(line: str) -> None:
            self.log(f"  | {line}")

        return self.runner.stream(argv, timeout=timeout, sink=sink)

    def satisfied(self, step: Step) -> bool:
        if step.check is None:
            return False
        argv = shell_argv(step.shell, step.check.command)
        self.log(f"check: {step.check.command}")
        result = self.run(argv, self.check_timeout)
        ok = isinstance(result, Completed) and result.returncode == 0
        self.log(f"check {'passed' if ok else 'not satisfied'}: {step.check.means}")
        return ok

    def fail(
        self,
        step: Step,
        message: str,
        *,
        evidence: list[str],
        hint: str | None = None,
    ) -> NoReturn:
        self.log(f"FAILED {step.id}: {message}")
        self.write_state("failed", step.id)
        raise ApplyError(
            message,
            evidence=[*evidence, f"log: {self.log_path}"],
            hint=hint or "fix the cause and run the same command again: finished steps are skipped",
        )

    def run_step(self, step: Step) -> None:
        for command in step.commands:
            argv = self.argv(step, command, elevate=True)
            self.log(f"run: {command}")
            result = self.run(argv, self.command_timeout)
            if isinstance(result, Completed) and result.returncode == 0:
                continue
            if isinstance(result, Completed):
                head = (
                    f"step {step.id!r} failed: `{_first_line(command)}` "
                    f"exited with status {result.returncode}"
                )
                tail = _tail(result.output)
            else:
                head = f"step {step.id!r} failed: `{_first_line(command)}`: {result.describe()}"
                tail = []
            evidence = [f"step: {step.title}"]
            if tail:
                evidence.append("end of its output:")
                evidence.extend(f"  {line}" for line in tail)
            self.fail(step, head, evidence=evidence)
        if step.check is not None and not self.satisfied(step):
            self.fail(
                step,
                f"step {step.id!r} ran but its check still fails: {step.check.means}",
                evidence=[f"check: {step.check.command}"],
            )


def apply_plan(
    plan: Plan,
    *,
    runner: StreamingRunner,
    state_dir: Path,
    privilege: Privilege,
    clock: Callable[[], str],
    report: Callable[[str], None] = lambda _line: None,
    check_timeout: float = CHECK_TIMEOUT,
    command_timeout: float = COMMAND_TIMEOUT,
) -> ApplyResult:
    """Run ``plan``'s steps in order; raise :class:`ApplyError` at the first failure.

    A step whose check passes is skipped. After a step marked ``reboot_after`` has
    run, the run stops and the result says a reboot is required; the next run
    skips it (its check passes) and continues. ``report`` receives one line per step.
    """
    session = _Session(
        plan=plan,
        runner=runner,
        state_dir=state_dir,
        privilege=privilege,
        clock=clock,
        report=report,
        check_timeout=check_timeout,
        command_timeout=command_timeout,
    )
    resumed = session.previous_stop()
    session.log(
        f"== apply {plan.component} {plan.version or '(distribution)'} on {plan.os.value} "
        f"from {plan.source}" + (f"; the last run stopped at {resumed}" if resumed else "")
    )
    if resumed:
        report(f"continuing: the last run stopped at step {resumed}")
    outcomes: list[StepOutcome] = []
    total = len(plan.steps)
    for number, step in enumerate(plan.steps, start=1):
        session.log(f"-- step {number}/{total} {step.id}: {step.title}")
        if session.satisfied(step):
            means = step.check.means if step.check else ""
            outcomes.append(
                StepOutcome(id=step.id, title=step.title, status=StepStatus.SKIPPED, detail=means)
            )
            report(f"[{number}/{total}] skip  {step.id}: already satisfied ({means})")
            continue
        report(f"[{number}/{total}] run   {step.id}: {step.title}")
        session.run_step(step)
        outcomes.append(StepOutcome(id=step.id, title=step.title, status=StepStatus.DONE))
        session.log(f"done {step.id}")
        report(f"[{number}/{total}] done  {step.id}")
        if step.reboot_after and number < total:
            session.write_state("reboot", step.id)
            session.log(f"reboot required after {step.id}")
            return ApplyResult(
                component=plan.component,
                outcomes=tuple(outcomes),
                reboot_required=True,
                log=session.log_path,
                resumed_from=resumed,
            )
    session.write_state("done", None)
    session.log(f"== {plan.component}: every step satisfied")
    return ApplyResult(
        component=plan.component,
        outcomes=tuple(outcomes),
        reboot_required=False,
        log=session.log_path,
        resumed_from=resumed,
    )
