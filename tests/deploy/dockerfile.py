"""Reading the Dockerfile, .dockerignore and the manifests' commands, for the image tests.

A Dockerfile is read as the builder reads it: comment lines dropped, backslash
continuations joined, one instruction per logical line, stages split at FROM.
.dockerignore follows Docker's rules: Go-style globs plus `**`, `!` re-includes, the
last matching line wins, and a line that matches a directory matches what is in it.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest of the logical line, continuations joined

    def exec_form(self) -> list[str] | None:
        """The JSON list of an exec-form CMD/ENTRYPOINT/RUN, else None."""
        if not self.args.startswith("["):
            return None
        value = json.loads(self.args)
        assert isinstance(value, list), self
        return [str(item) for item in value]

    def pairs(self) -> dict[str, str]:
        """KEY=VALUE pairs of ENV, LABEL and ARG (ARG without a default maps to '')."""
        out: dict[str, str] = {}
        for token in shlex.split(self.args):
            key, _, value = token.partition("=")
            out[key] = value
        return out

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`--from=builder a b` -> ({'from': 'builder'}, ['a', 'b'])."""
        flags: dict[str, str] = {}
        words: list[str] = []
        for token in shlex.split(self.args):
            if token.startswith("--") and not words:
                key, _, value = token[2:].partition("=")
                flags[key] = value
            else:
                words.append(token)
        return flags, words


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for instruction in self.all("ENV"):
            out.update(instruction.pairs())
        return out


def parse_dockerfile(text: str) -> list[Stage]:
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append((pending + line).strip())
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            _, words = instruction.flags_and_words()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            assert stages, f"{line!r} comes before any FROM"
            stages[-1].instructions.append(instruction)
    return stages


def shell_commands(run: Instruction) -> list[list[str]]:
    """The simple commands of a shell-form RUN, split at &&, || and ;."""
    commands: list[list[str]] = [[]]
    lexer = shlex.shlex(run.args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    for token in lexer:
        if token in {"&&", "||", ";"}:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


# --- .dockerignore --------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body[:1] in {"^", "!"} else body) + "]"
            i = end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


@dataclass(frozen=True)
class IgnoreRules:
    rules: tuple[tuple[bool, re.Pattern[str]], ...]  # (re-include?, pattern)

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        rules = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = posixpath.normpath(line.lstrip("!").strip()).lstrip("/")
            rules.append((negated, _glob_regex(pattern)))
        return cls(tuple(rules))

    def excluded(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for negated, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                verdict = not negated
        return verdict


# --- the manifests' commands ----------------------------------------------------------


Container = tuple[str, list[str]]  # (image, command)


def manifest_containers(root: Path) -> dict[str, list[Container]]:
    """Every container with a `command` in the YAML under root, by file (relative path)."""
    found: dict[str, list[Container]] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml")):
        text = path.read_text()
        if "command" not in text:
            continue
        commands: list[Container] = []
        for document in yaml.load_all(text, Loader=loader):
            _collect_commands(document, commands)
        if commands:
            found[str(path.relative_to(root))] = commands
    return found


def _collect_commands(node: object, out: list[Container]) -> None:
    if isinstance(node, dict):
        for key in ("containers", "initContainers"):
            for container in node.get(key) or []:
                if isinstance(container, dict) and isinstance(container.get("command"), list):
                    command = [str(word) for word in container["command"]]
                    out.append((str(container.get("image", "")), command))
        for value in node.values():
            _collect_commands(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect_commands(item, out)


def is_wxp(image: str) -> bool:
    """wxp, wxp:TAG, registry.example.com/wxp@sha256:...: this repository's image."""
    return re.split(r"[:@]", image.rsplit("/", 1)[-1])[0] == "wxp"


@dataclass(frozen=True)
class WxpContainer:
    file: str
    name: str
    user: object  # runAsUser, the container's or else the pod's
    group: object
    read_only_root: bool
    mounts: frozenset[str]


def wxp_containers(root: Path) -> list[WxpContainer]:
    """The containers of the wxp image in the pod specs of any YAML under root."""
    found: list[WxpContainer] = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(root.rglob("*.yaml")):
        text = path.read_text()
        if "wxp" not in text or "containers" not in text:
            continue
        for document in yaml.load_all(text, Loader=loader):
            _collect_wxp(document, str(path.relative_to(root)), found)
    return found


def _collect_wxp(node: object, file: str, out: list[WxpContainer]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect_wxp(item, file, out)
    if not isinstance(node, dict):
        return
    pod = node.get("securityContext") or {}
    for container in node.get("containers") or []:
        if not isinstance(container, dict) or not is_wxp(str(container.get("image", ""))):
            continue
        own = container.get("securityContext") or {}
        out.append(
            WxpContainer(
                file=file,
                name=str(container.get("name")),
                user=own.get("runAsUser", pod.get("runAsUser")),
                group=own.get("runAsGroup", pod.get("runAsGroup")),
                read_only_root=bool(own.get("readOnlyRootFilesystem")),
                mounts=frozenset(m.get("mountPath") for m in container.get("volumeMounts") or []),
            )
        )
    for value in node.values():
        _collect_wxp(value, file, out)
