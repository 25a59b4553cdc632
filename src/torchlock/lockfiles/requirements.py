"""Export: pip requirements with ``--hash`` for every file and the index options.

``pip install --require-hashes -r FILE`` installs it. Without a platform, every package of
the lock is listed with its marker (pip skips lines whose marker does not hold); with one,
only that target's packages, without markers.
"""

from __future__ import annotations

from torchlock.lockfiles.model import Lock, LockedPackage


def index_options(lock: Lock, platform: str | None = None) -> list[str]:
    """``--index-url`` (the default index), ``--extra-index-url`` (other torch indexes) and
    ``--find-links`` (folders that packages came from), each once, in a stable order."""
    targets = lock.targets if platform is None else (lock.target(platform),)
    default = targets[0].default_index
    extra = sorted({t.torch_index for t in targets} - {default})
    packages = lock.packages if platform is None else lock.packages_for(platform)
    indexes = {default, *extra}
    links = sorted({p.index for p in packages} - indexes)
    return [
        f"--index-url {default}",
        *(f"--extra-index-url {url}" for url in extra),
        *(f"--find-links {url}" for url in links),
    ]


def requirement_line(package: LockedPackage, *, marker: bool) -> str:
    """``name==version[ ; marker]`` followed by one ``--hash`` per file, continued lines."""
    head = f"{package.name}=={package.version}"
    if marker and package.marker is not None:
        head += f" ; {package.marker}"
    hashes = sorted({f.sha256 for f in package.files})
    return " \\\n".join([head, *(f"    --hash=sha256:{h}" for h in hashes)])


def render(lock: Lock, *, source: str, platform: str | None = None) -> str:
    """The requirements text of ``lock`` (exported from the file named ``source``)."""
    packages = lock.packages if platform is None else lock.packages_for(platform)
    scope = "every target" if platform is None else platform
    lines = [
        f"# Exported by torchlock from {source} for {scope}; do not edit by hand.",
        f"# Python {lock.python}. Install: pip install --require-hashes -r <this file>",
        *index_options(lock, platform),
        "",
    ]
    lines.extend(requirement_line(p, marker=platform is None) for p in packages)
    return "\n".join(lines) + "\n"
