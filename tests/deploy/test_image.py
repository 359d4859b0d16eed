"""The image's contract, checked on the Dockerfile (no base image can be pulled here).

What deploy/k8s expects of the image: `python -m services.<name>` runs for every module
the manifests name, from the project installed (not editable) with requirements.lock's
pins; UID/GID 10001; nothing written outside /tmp; no secrets in it; OCI labels.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.dockerfile import (
    IgnoreRules,
    Stage,
    is_wxp,
    manifest_containers,
    parse_dockerfile,
    shell_commands,
    wxp_containers,
)

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"gateway", "replies", "scheduler", "analytics"}
SECRET_NAMES = {"WXP_MASTER_KEY", "WXP_ADMIN_KEY", "AMQP_URL", "MONGODB_URL"}
OCI_LABELS = {
    f"org.opencontainers.image.{key}"
    for key in ("title", "description", "source", "licenses", "revision", "version")
}


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def builder_of(stages: list[Stage]) -> Stage:
    (builder,) = [stage for stage in stages if stage.name == "builder"]
    return builder


@pytest.fixture(scope="module")
def ignore() -> IgnoreRules:
    return IgnoreRules.parse((ROOT / ".dockerignore").read_text())


def pip_installs(stage: Stage) -> list[list[str]]:
    return [
        command
        for run in stage.all("RUN")
        for command in shell_commands(run)
        if command[:2] == ["pip", "install"] or command[:4] == ["python", "-m", "pip", "install"]
    ]


def venv_dir(builder: Stage) -> str:
    created = [c for r in builder.all("RUN") for c in shell_commands(r) if c[1:3] == ["-m", "venv"]]
    assert len(created) == 1, "the builder makes one virtualenv"
    return created[0][-1].rstrip("/")


def context_copies(stage: Stage) -> list[str]:
    """The build-context sources that a stage's COPY instructions take."""
    sources: list[str] = []
    for copy in stage.all("COPY"):
        flags, words = copy.flags_and_words()
        if "from" not in flags:
            sources += words[:-1]
    return sources


def test_multi_stage_with_a_python_311_slim_final_stage(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]{64})?", stages[-1].base)
    names = {stage.name for stage in stages[:-1]}
    for copy in stages[-1].all("COPY"):
        flags, _ = copy.flags_and_words()
        assert flags.get("from") in names, f"the final stage copies from a build stage: {copy}"


def test_final_stage_runs_as_uid_and_gid_10001(stages: list[Stage]) -> None:
    final = stages[-1]
    users = final.all("USER")
    assert users, "the final stage sets USER"
    assert users[-1].args in {"10001", "10001:10001"}, "numeric, so runAsNonRoot can verify it"
    made = " ".join(run.args for run in final.all("RUN"))
    assert re.search(r"groupadd\b.*--gid 10001", made)
    assert re.search(r"useradd\b.*--uid 10001 --gid 10001", made)


def test_dependencies_come_from_the_lock_with_hashes(stages: list[Stage]) -> None:
    builder = builder_of(stages)
    installs = pip_installs(builder)
    from_lock = [c for c in installs if "-r" in c]
    assert len(from_lock) == 1
    lock = from_lock[0]
    assert lock[lock.index("-r") + 1] == "requirements.lock"
    assert {"--require-hashes", "--no-deps"} <= set(lock), "only the lock's hashed pins"
    assert "requirements.lock" in context_copies(builder)
    project = [c for c in installs if c is not lock]
    assert len(project) == 1, "then the project alone"
    assert "--no-deps" in project[0]
    assert project[0][-1] == ".", "the project from the copied sources"
    assert installs.index(lock) < installs.index(project[0])
    for stage in stages:
        for command in pip_installs(stage):
            assert not {"-e", "--editable"} & set(command), "installed, not editable"
    assert pip_installs(stages[-1]) == [], "the final stage installs nothing itself"


def test_final_stage_holds_the_virtualenv_and_compiled_bytecode(stages: list[Stage]) -> None:
    builder, final = builder_of(stages), stages[-1]
    venv = venv_dir(builder)
    copies = [c.flags_and_words() for c in final.all("COPY")]
    assert ({"from": builder.name or "0"}, [venv, venv]) in copies
    assert context_copies(final) == [], "no sources in the final stage: the venv has all"
    env = final.env()
    assert env["PATH"].split(":")[0] == f"{venv}/bin", "python on PATH is the venv's"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "the root filesystem is read-only"
    assert env.get("HOME", "").startswith("/tmp"), "the one writable place"  # noqa: S108
    compiled = [c for r in builder.all("RUN") for c in shell_commands(r) if "compileall" in c]
    assert compiled, "bytecode is compiled at build time"
    assert compiled[0][-1] == venv
    assert "unchecked-hash" in compiled[0], "a copied .pyc must not be taken as stale"


def test_copies_no_secrets_and_bakes_none_in(stages: list[Stage]) -> None:
    for stage in stages:
        assert stage.all("ADD") == [], "COPY only: ADD fetches URLs and unpacks archives"
        for source in context_copies(stage):
            top = posixpath.normpath(source).lstrip("/").split("/")[0]
            assert top not in {".", ""}, "explicit sources, not the whole context"
            assert top not in {"var", ".venv", ".git", "tests", "deploy"}, source
            assert not re.search(r"secret|\.pem$|\.key$|\.env$", source), source
        for instruction in stage.all("ENV") + stage.all("ARG"):
            assert not SECRET_NAMES & instruction.pairs().keys(), instruction


def test_dockerignore_keeps_local_state_and_secrets_out(ignore: IgnoreRules) -> None:
    for path in (
        "var/secrets.env",
        "var/rabbitmq/mnesia/x",
        ".venv/bin/python",
        ".git/config",
        "deploy/local/secrets.sh",
        "tests/conftest.py",
        ".pytest_cache/v/x",
        ".mypy_cache/3.11/x.json",
        "shared/platform/__pycache__/storage.cpython-311.pyc",
        "services/gateway/tls.pem",
        "services/.env",
        "shared/deploy.key",
        "wxp.egg-info/PKG-INFO",
    ):
        assert ignore.excluded(path), f"{path} would reach the build context"


def test_dockerignore_lets_in_everything_the_dockerfile_copies(
    stages: list[Stage], ignore: IgnoreRules
) -> None:
    known = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    copied = [source for stage in stages for source in context_copies(stage)]
    sources = [posixpath.normpath(s).lstrip("/") for s in copied]
    wanted = [f for f in known if any(f == s or f.startswith(s + "/") for s in sources)]
    assert "shared/platform/secretbox.py" in wanted
    assert "requirements.lock" in wanted
    left_out = [f for f in wanted if (ROOT / f).exists() and ignore.excluded(f)]
    assert left_out == [], "the image would miss these"


def test_the_project_from_the_context_has_every_module_the_manifests_run(
    stages: list[Stage], ignore: IgnoreRules, tmp_path: Path
) -> None:
    modules = manifest_modules()
    src = tmp_path / "src"
    for source in context_copies(builder_of(stages)):
        origin = ROOT / source
        files = [origin] if origin.is_file() else sorted(origin.rglob("*"))
        for path in files:
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and not ignore.excluded(relative):
                (src / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, src / relative)
    wheel_cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*wheel_cmd, "-w", str(tmp_path / "dist"), str(src)], check=True)
    (wheel,) = (tmp_path / "dist").glob("wxp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in modules:
        assert f"{module.replace('.', '/')}/__main__.py" in names, module
    assert not any(name.startswith("tests/") for name in names)
    console = "services/gateway/console"
    for page in ("templates/base.html", "templates/signin.html", "static/console.css"):
        assert f"{console}/{page}" in names, page
    assert not any("node_modules" in name for name in names)


def test_the_console_libraries_come_from_npm_in_a_stage_of_their_own(
    stages: list[Stage],
) -> None:
    """The same three files that install-console-assets.sh vendors for make run, from
    the same package-lock.json, copied into the builder before the project is installed."""
    (assets,) = [stage for stage in stages if stage.name == "console-assets"]
    commands = [c for run in assets.all("RUN") for c in shell_commands(run)]
    assert ["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"] in commands
    script = (ROOT / "deploy" / "local" / "install-console-assets.sh").read_text()
    vendored = set(re.findall(r"dist/([\w.]+\.(?:js|css))", script))
    assert vendored == {"htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css"}
    copied = [c for c in commands if c[0] == "cp"]
    assert {posixpath.basename(f) for c in copied for f in c[1:-1]} == vendored
    builder = builder_of(stages)
    froms = [c.flags_and_words() for c in builder.all("COPY") if "from" in c.flags_and_words()[0]]
    assert [(f["from"], w[-1]) for f, w in froms] == [
        ("console-assets", "./services/gateway/console/static/vendor")
    ]
    assert stages.index(assets) < stages.index(builder) < len(stages) - 1


def manifest_modules() -> set[str]:
    """The modules that containers of the wxp image run, in any YAML under deploy/k8s."""
    found = manifest_containers(ROOT / "deploy" / "k8s")
    commands = [command for ours in found.values() for image, command in ours if is_wxp(image)]
    for command in commands:
        assert command[:2] == ["python", "-m"], f"the image runs python -m, not {command}"
    modules = {command[2] for command in commands}
    assert {f"services.{name}" for name in SERVICES} <= modules, found
    return modules


def test_every_module_the_manifests_run_is_a_service_package() -> None:
    for module in manifest_modules():
        assert (ROOT / module.replace(".", "/") / "__main__.py").is_file(), module


def test_the_manifests_run_the_image_as_its_user_with_tmp_writable(stages: list[Stage]) -> None:
    uid, _, gid = stages[-1].all("USER")[-1].args.partition(":")
    containers = wxp_containers(ROOT / "deploy" / "k8s")
    assert {c.name for c in containers} >= SERVICES
    for container in containers:
        assert (container.user, container.group) == (int(uid), int(gid or uid)), container
        if container.read_only_root:
            assert "/tmp" in container.mounts, f"the image writes to /tmp: {container}"  # noqa: S108


def test_default_command_and_no_entrypoint(stages: list[Stage]) -> None:
    final = stages[-1]
    assert final.all("ENTRYPOINT") == [], "the manifests' command runs python directly"
    (cmd,) = final.all("CMD")
    assert cmd.exec_form() == ["python", "-m", "services.gateway"], "exec form: no shell"


def test_oci_labels_from_build_arguments(stages: list[Stage]) -> None:
    final = stages[-1]
    labels: dict[str, str] = {}
    for label in final.all("LABEL"):
        labels.update(label.pairs())
    assert labels.keys() >= OCI_LABELS
    args: dict[str, str] = {}
    for arg in final.all("ARG"):
        args.update(arg.pairs())
    for key in ("source", "licenses", "revision", "version"):
        value = labels[f"org.opencontainers.image.{key}"]
        match = re.fullmatch(r"\$\{(\w+)\}", value)
        assert match, f"{key} comes from an ARG"
        assert args.get(match.group(1)), f"{key}'s ARG has a default"
    assert labels["org.opencontainers.image.title"] == "wxp"


def test_exposes_each_service_port(stages: list[Stage]) -> None:
    ports = set()
    for name in SERVICES:
        text = (ROOT / "services" / name / "settings.py").read_text()
        ports |= {int(p) for p in re.findall(r'port_var="[A-Z]+_PORT", port=(\d+)', text)}
    assert len(ports) == len(SERVICES)
    exposed = {int(p) for e in stages[-1].all("EXPOSE") for p in e.args.split()}
    assert exposed == ports
    host = stages[-1].env().get("WXP_HOST")
    assert host == "0.0.0.0", "reachable from outside the container"  # noqa: S104
