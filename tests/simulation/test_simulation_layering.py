"""The simulators stand in for systems we do not own: they never import the daemon's packages,
so a misunderstanding on the client side cannot be copied into the server side."""

from __future__ import annotations

import ast
from pathlib import Path

import gitops_lifecycle.simulation

DAEMON = ("kube", "cleanup", "retry", "authentik", "discovery", "daemon", "demo", "cli")
ROOT = Path(gitops_lifecycle.simulation.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _daemon_module(name: str) -> bool:
    return any(name == f"gitops_lifecycle.{package}"
               or name.startswith(f"gitops_lifecycle.{package}.") for package in DAEMON)


def test_no_simulation_module_imports_the_daemons_packages() -> None:
    offenders = {str(path.relative_to(ROOT)): sorted(filter(_daemon_module, _imports(path)))
                 for path in ROOT.rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names} == {}
