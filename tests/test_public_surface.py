"""Leaves import the kernel's declared surface: no ``_private`` module of drydock, and every name
imported from a kernel module is in that module's ``__all__``. (import-linter's wildcards cannot
match a ``_`` prefix, so this is a test; tests themselves may reach internals.)"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

from drydock.settings import REPO_ROOT

LEAVES = ("strategies", "models", "research", "live", "pipelines", "app", "benchmarks", "demo")


def kernel_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of a drydock module in ``path``, nested ones too."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "drydock" or node.module.startswith("drydock."):
                found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("drydock."):
                    found.append((node.lineno, alias.name, []))
    return found


def surface_violations(path: Path) -> list[str]:
    """What ``path`` imports from the kernel beyond its declared surface."""
    problems = []
    for line, module, names in kernel_imports(path):
        where = f"{path.relative_to(REPO_ROOT)}:{line}"
        if any(part.startswith("_") for part in module.split(".")):
            problems.append(f"{where} imports the private module {module}")
            continue
        declared = getattr(importlib.import_module(module), "__all__", None)
        for name in names:
            submodule = f"{module}.{name}"
            if importlib.util.find_spec(module) and _is_module(submodule):
                if name.startswith("_"):
                    problems.append(f"{where} imports the private module {submodule}")
                continue
            if declared is None:
                problems.append(f"{where}: {module} declares no __all__")
            elif name not in declared:
                problems.append(f"{where} imports {name} from {module}, not in its __all__")
    return problems


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_leaves_import_only_the_kernel_surface() -> None:
    problems = [
        problem
        for leaf in LEAVES
        for path in sorted((REPO_ROOT / leaf).rglob("*.py"))
        for problem in surface_violations(path)
    ]
    assert problems == []


def test_every_kernel_package_declares_its_surface() -> None:
    missing = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "drydock").rglob("*.py"))
        if not path.name.startswith("_")
        and path.stem != "__main__"
        and "__all__" not in path.read_text("utf-8")
        and not (path.name == "__init__.py" and path.parent.name in ("drydock", "adapters"))
    ]
    assert missing == []


def test_a_leaf_importing_a_private_module_or_an_undeclared_name_is_found(tmp_path: Path) -> None:
    leaf = REPO_ROOT / "live" / "_surface_probe_tmp.py"
    leaf.write_text(
        "from drydock.policy._rolling import cap_usage\n"
        "from drydock.adapters.evm import _whales\n"
        "from drydock.lake import Path\n"  # a name lake imports, not one it declares
        "from drydock.policy import cap_usage as ok\n"
    )
    try:
        found = surface_violations(leaf)
    finally:
        leaf.unlink()
    assert len(found) == 3
    assert "private module drydock.policy._rolling" in found[0]
    assert "private module drydock.adapters.evm._whales" in found[1]
    assert "imports Path from drydock.lake, not in its __all__" in found[2]
