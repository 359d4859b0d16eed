"""The lock files: in step with pyproject.toml, hashed, and what .venv really runs.

requirements.lock pins [project].dependencies (the image installs it);
requirements-dev.lock pins the same plus the dev extra (.venv: make run, make test, CI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK_SH = ROOT / "deploy" / "local" / "lock.sh"
DEV_TOOLS = {"pytest", "ruff", "mypy", "uv"}

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def read_lock(name: str) -> dict[str, tuple[str, int]]:
    """{canonical name: (version, number of hashes)} for the pins that apply here."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in (ROOT / name).read_text().splitlines():
        match = PIN.match(line)
        if match:
            applies = match.group(3) is None or Marker(match.group(3)).evaluate()
            current = str(canonicalize_name(match.group(1))) if applies else ""
            if current:
                pins[current] = (match.group(2), 0)
        elif "--hash=sha256:" in line and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(text) for text in listed]


@pytest.fixture(scope="module")
def runtime() -> dict[str, tuple[str, int]]:
    return read_lock("requirements.lock")


@pytest.fixture(scope="module")
def dev() -> dict[str, tuple[str, int]]:
    return read_lock("requirements-dev.lock")


def test_every_declared_dependency_is_pinned_within_its_range(
    runtime: dict[str, tuple[str, int]], dev: dict[str, tuple[str, int]]
) -> None:
    for lock, requirements in (
        (runtime, declared()),
        (dev, declared() + declared("dev")),
    ):
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{name} is not pinned: run make lock"
            version = lock[name][0]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{name}=={version} is outside pyproject's {requirement.specifier}: make lock"
            )


def test_runtime_lock_holds_no_dev_tools(runtime: dict[str, tuple[str, int]]) -> None:
    dev_only = {canonicalize_name(r.name) for r in declared("dev")} | DEV_TOOLS
    assert dev_only & runtime.keys() == set()


def test_dev_lock_runs_exactly_the_image_pins(
    runtime: dict[str, tuple[str, int]], dev: dict[str, tuple[str, int]]
) -> None:
    differing = {n: (v, dev.get(n)) for n, (v, _) in runtime.items() if dev.get(n, ("",))[0] != v}
    assert differing == {}


def test_every_pin_carries_hashes(
    runtime: dict[str, tuple[str, int]], dev: dict[str, tuple[str, int]]
) -> None:
    for lock in (runtime, dev):
        assert len(lock) > 10
        assert [name for name, (_, hashes) in lock.items() if hashes == 0] == []


def test_the_virtualenv_runs_the_dev_lock(dev: dict[str, tuple[str, int]]) -> None:
    installed = {str(canonicalize_name(d.name)): d.version for d in metadata.distributions()}
    wrong = {n: (v, installed.get(n)) for n, (v, _) in dev.items() if installed.get(n) != v}
    assert wrong == {}, "make install installs requirements-dev.lock; run it again"


def uv_installed() -> bool:
    return shutil.which("uv", path=str(ROOT / ".venv" / "bin")) is not None


@pytest.mark.skipif(not uv_installed(), reason="uv is not in .venv")
def test_locks_are_what_pyproject_resolves_to() -> None:
    result = subprocess.run([LOCK_SH, "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not uv_installed(), reason="uv is not in .venv")
def test_lock_check_names_a_pin_missing_from_a_lock(tmp_path: Path) -> None:
    (tmp_path / "deploy" / "local").mkdir(parents=True)
    for name in ("deploy/local/env.sh", "deploy/local/lock.sh", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copy2(ROOT / "requirements.lock", tmp_path / "requirements.lock")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    # requirements-dev.lock without uv's block (its pin line, hashes and comments).
    lines = (ROOT / "requirements-dev.lock").read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("uv=="))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    broken = "".join(lines[:start] + lines[end:])
    (tmp_path / "requirements-dev.lock").write_text(broken)
    result = subprocess.run(
        [tmp_path / "deploy/local/lock.sh", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "UPGRADE": ""},
    )
    assert result.returncode != 0
    assert "requirements-dev.lock is stale" in result.stderr
    assert "> uv==" in result.stderr
    assert "requirements.lock is stale" not in result.stderr
    assert (tmp_path / "requirements-dev.lock").read_text() == broken, "--check writes nothing"
