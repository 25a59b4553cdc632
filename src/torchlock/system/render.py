"""A :class:`Plan` as text (what ``torchlock system plan`` prints) and as a JSON document.

Both are deterministic (no timestamps, LF, trailing newline); golden files guard them.
"""

from __future__ import annotations

import json
from typing import Any

from torchlock.system.steps import Download, Edit, Plan, Step


def _indent(text: str, prefix: str) -> list[str]:
    return [f"{prefix}{line}" if line else prefix.rstrip() for line in text.splitlines()]


def _download_lines(download: Download) -> list[str]:
    lines = [f"    download: {download.url}", f"      to: {download.dest}"]
    checksum = download.checksum
    if checksum is None:
        lines.append("      checksum: none to verify")
    elif checksum.value is not None:
        lines.append(f"      {checksum.algorithm}: {checksum.value}")
    elif checksum.list_url is not None:
        lines.append(f"      {checksum.algorithm}: from {checksum.list_url}")
    lines.append(f"      published: {download.published}")
    return lines


def _edit_lines(edit: Edit) -> list[str]:
    how = "append once to" if edit.append else "write"
    lines = [f"    edit ({how}): {edit.file}", f"      why: {edit.why}"]
    lines.extend(_indent(edit.content.rstrip("\n"), "      | "))
    return lines


def _step_lines(number: int, step: Step) -> list[str]:
    flags = [f"shell: {step.shell.value}", f"root: {'yes' if step.needs_root else 'no'}"]
    if step.reboot_after:
        flags.append("reboot after: yes")
    lines = [f"{number}. {step.title}  [{step.id}]", "   " + ", ".join(flags)]
    lines.extend(_indent(step.why, "   why: "))
    if step.check is not None:
        lines.append(f"   satisfied when: {step.check.means}")
        lines.extend(_indent(step.check.command, "     $ "))
    else:
        lines.append("   satisfied when: never (always runs)")
    for download in step.downloads:
        lines.extend(_download_lines(download))
    for edit in step.edits:
        lines.extend(_edit_lines(edit))
    lines.append("   commands:")
    for command in step.commands:
        first, *rest = command.splitlines() or [""]
        lines.append(f"     $ {first}")
        lines.extend(f"       {line}" if line else "" for line in rest)
    return lines


def render_text(plan: Plan) -> str:
    version = plan.version or "the distribution's"
    lines = [f"torchlock plan: {plan.component} {version} on {plan.os.value} ({plan.source})", ""]
    for number, step in enumerate(plan.steps, start=1):
        lines.extend(_step_lines(number, step))
        lines.append("")
    for note in plan.notes:
        lines.extend(_indent(note, "note: "))
    for source in plan.sources:
        lines.append(f"source: {source}")
    return "\n".join(lines).rstrip("\n") + "\n"


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "component": plan.component,
        "os": plan.os.value,
        "version": plan.version,
        "source": plan.source,
        "notes": list(plan.notes),
        "sources": list(plan.sources),
        "steps": [
            {
                "id": step.id,
                "title": step.title,
                "why": step.why,
                "shell": step.shell.value,
                "needs_root": step.needs_root,
                "reboot_after": step.reboot_after,
                "check": (
                    {"command": step.check.command, "means": step.check.means}
                    if step.check
                    else None
                ),
                "downloads": [
                    {
                        "url": d.url,
                        "dest": d.dest,
                        "checksum": (
                            {
                                "algorithm": d.checksum.algorithm,
                                "value": d.checksum.value,
                                "list_url": d.checksum.list_url,
                            }
                            if d.checksum
                            else None
                        ),
                        "published": d.published,
                    }
                    for d in step.downloads
                ],
                "edits": [
                    {"file": e.file, "content": e.content, "why": e.why, "append": e.append}
                    for e in step.edits
                ],
                "commands": list(step.commands),
            }
            for step in plan.steps
        ],
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=True) + "\n"
