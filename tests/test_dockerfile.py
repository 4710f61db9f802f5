"""The container image, checked with Docker's own Dockerfile parser (no Docker daemon here)."""

from __future__ import annotations

import json
from pathlib import Path

import dockerfile

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def _final_stage() -> list[dockerfile.Command]:
    commands = _commands()
    last_from = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    return commands[last_from:]


def test_build_is_multi_stage_on_a_slim_python_base_by_default() -> None:
    commands = _commands()
    defaults = {c.value[0].split("=")[0]: c.value[0].split("=", 1)[1]
                for c in commands if c.cmd == "ARG" and "=" in c.value[0]}
    bases = [c.value[0] for c in commands if c.cmd == "FROM"]
    assert len(bases) >= 2
    assert bases[0] == "${BASE}"
    assert bases[-1] == "${RUNTIME_BASE}"
    assert defaults["BASE"].startswith("python:3.11-slim")
    assert defaults["RUNTIME_BASE"] == defaults["BASE"]


def test_package_is_installed_by_pip_from_the_project() -> None:
    runs = " ".join(" ".join(c.value) for c in _commands() if c.cmd == "RUN")
    assert "pip install ." in runs
    copies = [c.value for c in _commands() if c.cmd == "COPY"]
    assert any("pyproject.toml" in value for value in copies)


def test_runtime_runs_as_non_root_65532() -> None:
    users = [c.value[0] for c in _final_stage() if c.cmd == "USER"]
    assert users
    assert users[-1].split(":")[0] == "65532"


def test_entrypoint_and_default_command() -> None:
    final = _final_stage()
    entrypoint = next(c for c in final if c.cmd == "ENTRYPOINT")
    cmd = next(c for c in final if c.cmd == "CMD")
    assert entrypoint.json
    assert json.loads(entrypoint.original.split(None, 1)[1]) == ["gitops-lifecycle"]
    assert json.loads(cmd.original.split(None, 1)[1]) == ["run"]


def test_nothing_is_written_at_run_time() -> None:
    env = " ".join(" ".join(c.value) for c in _final_stage() if c.cmd == "ENV")
    assert "PYTHONDONTWRITEBYTECODE" in env
    # compiled ahead of time, so a read-only root filesystem costs nothing at start-up
    assert any("compileall" in " ".join(c.value) for c in _final_stage() if c.cmd == "RUN")


def test_every_file_the_package_links_to_is_copied_into_the_build() -> None:
    """A symlink in the package (the chart's CRD) must resolve inside the build stage, or the
    wheel is built without the file it names."""
    copied = [Path(value[0]) for value in
              (c.value for c in _commands() if c.cmd == "COPY" and "--from" not in c.flags)]
    ignored = (ROOT / ".dockerignore").read_text().split()
    links = [p for p in (ROOT / "gitops_lifecycle").rglob("*") if p.is_symlink()]
    assert links
    for link in links:
        target = link.resolve().relative_to(ROOT)
        assert any(target.is_relative_to(source) for source in copied), target
        assert not any(target.is_relative_to(pattern) for pattern in ignored), target
