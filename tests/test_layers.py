"""The layers' dependency rule (ARCHITECTURE.md) holds: checked on every import statement."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mastkit"

# package -> mastkit packages it may import (besides errors, _settings, _types, __init__)
ALLOWED = {
    "protocol": {"protocol"},
    "tables": {"tables", "protocol"},
    "client": {"client", "protocol", "tables"},
    "services": {"services", "client", "tables", "protocol"},
    "download": {"download", "client", "protocol", "tables", "services"},
    "server": {"server", "protocol", "tables"},
    "cli": {"cli", "protocol", "tables", "client", "services", "download", "server"},
}
SHARED = {"errors", "_settings", "_types", ""}
# Third-party packages a layer must never import (protocol and tables stay free of I/O).
FORBIDDEN = {"protocol": {"httpx", "pyarrow", "duckdb"}, "tables": {"httpx", "duckdb"}}


def imports_of(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layer_imports(package: str) -> None:
    folder = SRC / package
    if not folder.exists():
        pytest.fail(f"missing package {package}")
    violations = []
    for path in folder.rglob("*.py"):
        for module, line in imports_of(path):
            top = module.split(".")[0]
            if top == "mastkit":
                target = module.split(".")[1] if "." in module else ""
                if target not in SHARED and target not in ALLOWED[package]:
                    violations.append(f"{path.relative_to(SRC)}:{line} imports {module}")
            elif top in FORBIDDEN.get(package, set()):
                violations.append(f"{path.relative_to(SRC)}:{line} imports {module}")
    assert not violations, "\n".join(violations)
