"""Every third-party module that a distribution's code imports is declared by that distribution's pyproject.

A fresh machine installs only what is declared; a module that happens to be installed here by hand would
otherwise hide a missing declaration until a user's import fails.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
# (pyproject, the package folders whose imports it must declare, first-party top-level names)
DISTRIBUTIONS = [
    (ROOT / "pyproject.toml", [ROOT / "evomem"], {"evomem"}),
    (ROOT / "integrations/langchain/pyproject.toml", [ROOT / "integrations/langchain/langchain_evomem"], set()),
    (
        ROOT / "integrations/llama-index/llama-index-embeddings-evomem/pyproject.toml",
        [ROOT / "integrations/llama-index/llama-index-embeddings-evomem/llama_index"],
        set(),
    ),
    (
        ROOT / "integrations/llama-index/llama-index-memory-evomem/pyproject.toml",
        [ROOT / "integrations/llama-index/llama-index-memory-evomem/llama_index"],
        set(),
    ),
]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(pyproject: Path) -> set[str]:
    """Distribution names of the core dependencies and of every extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {normalise(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)) for requirement in requirements}


def imported_modules(folders: list[Path]) -> dict[str, Path]:
    """Top-level names of absolute imports (lazy ones inside functions included) -> a file importing each."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], path)
    return found


def distributions_of(module: str) -> set[str]:
    return {normalise(name) for name in importlib.metadata.packages_distributions().get(module, [])}


@pytest.mark.parametrize("pyproject, folders, first_party", DISTRIBUTIONS, ids=lambda v: getattr(v, "parent", v))
def test_every_imported_module_is_declared(pyproject, folders, first_party):
    names = declared(pyproject)
    undeclared = []
    for module, path in imported_modules(folders).items():
        if module in sys.stdlib_module_names or module in first_party or module == "__future__":
            continue
        dists = distributions_of(module)
        if not dists:
            undeclared.append(f"{module} (imported by {path.relative_to(ROOT)}; not installed at all)")
        elif not dists & names:
            undeclared.append(f"{module} from {sorted(dists)} (imported by {path.relative_to(ROOT)})")
    assert not undeclared, f"{pyproject.relative_to(ROOT)} does not declare: {undeclared}"


def test_the_check_sees_a_missing_declaration(tmp_path):
    """The check itself can fail: a package importing a module its pyproject leaves out is reported."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["click"]\n')
    package = tmp_path / "x"
    package.mkdir()
    (package / "__init__.py").write_text("import click\n\n\ndef f():\n    import filelock\n")
    modules = imported_modules([package])
    assert set(modules) == {"click", "filelock"}
    names = declared(tmp_path / "pyproject.toml")
    assert distributions_of("click") & names
    assert not distributions_of("filelock") & names


TYPED_PACKAGES = [
    ROOT / "evomem",
    ROOT / "integrations/langchain/langchain_evomem",
    ROOT / "integrations/llama-index/llama-index-embeddings-evomem/llama_index/embeddings/evomem",
    ROOT / "integrations/llama-index/llama-index-memory-evomem/llama_index/memory/evomem",
]


@pytest.mark.parametrize("package", TYPED_PACKAGES, ids=lambda p: p.name if p.name != "evomem" else str(p.parent.name))
def test_every_package_ships_a_py_typed_marker(package):
    assert (package / "py.typed").is_file()
    if package == ROOT / "evomem":  # setuptools ships only the package data it is told of; hatch ships every file
        package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
        assert "py.typed" in package_data["package-data"]["evomem"]
