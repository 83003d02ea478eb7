"""The package's layers, its public surface and what the core path loads.

Every import in a file counts: at the top, inside functions and under ``TYPE_CHECKING``. A module may import its
own package's modules (without a cycle) and the modules of lower layers only.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import evomem
import evomem.schema

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "evomem"
# lowest first; a group may import the groups before it, never those after it
LAYERS = [
    ["evomem.version", "evomem.errors", "evomem.serial"],
    ["evomem.schema"],
    ["evomem.model"],  # backbone, config, encoder, packing, queue, segmenter, stream, loading
    ["evomem.storage"],  # Chroma store, lexical index, memory states, journal, writer, locks
    ["evomem.search"],  # ranking, fusion, calibration, the searcher
    ["evomem.maintenance"],  # rebuild's reading, repair, re-encoding with another model
    ["evomem.memory", "evomem.embedder", "evomem.api", "evomem.export"],  # the facades
    ["evomem.service"],  # REST, MCP, client
    ["evomem.datasets"],  # benchmark loaders, training records, the train/dev split
    ["evomem.evaluation"],
    ["evomem.training"],
    ["evomem.demo", "evomem.bench"],  # the demo and the latency benchmark
    ["evomem.cli", "evomem"],  # the command line, and the package's lazy exports
]
RESEARCH = ("evomem.training", "evomem.evaluation")


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = module_names()


def imports_of(name: str) -> set[str]:
    """The evomem modules that module ``name`` imports, anywhere in its file."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer_of(name: str) -> int:
    matches = [(len(prefix), rank) for rank, group in enumerate(LAYERS) for prefix in group if _within(name, prefix)]
    assert matches, f"{name} belongs to no layer: add it to LAYERS in {__file__}"
    return max(matches)[1]


def group_of(name: str) -> str:
    return max((prefix for group in LAYERS for prefix in group if _within(name, prefix)), key=len)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or (prefix != "evomem" and name.startswith(prefix + "."))


def test_every_module_has_a_layer_and_imports_only_lower_layers_or_its_own_group():
    wrong = [
        f"{name} ({group_of(name)}) imports {target} ({group_of(target)})"
        for name, targets in GRAPH.items()
        for target in targets
        if group_of(name) != group_of(target) and layer_of(target) >= layer_of(name)
    ]
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle():
    visiting, done, cycles = [], set(), []

    def visit(name: str) -> None:
        visiting.append(name)
        for target in sorted(GRAPH[name]):
            if target in visiting:
                cycles.append(" -> ".join([*visiting[visiting.index(target) :], target]))
            elif target not in done:
                visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(GRAPH):
        if name not in done:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_graph_sees_lazy_and_type_checking_imports():
    """The checks above would pass vacuously if function-level imports were missed."""
    assert "evomem.maintenance.repair" in GRAPH["evomem.memory"]  # imported inside EvoMemory.repair
    assert "evomem.memory" in GRAPH["evomem"]  # under TYPE_CHECKING


PUBLIC = {
    "evomem": [
        "AccessDeniedError",
        "AddResult",
        "ChannelScores",
        "DEFAULT_K",
        "DEFAULT_LEXICAL_WEIGHT",
        "DEFAULT_MODE",
        "DeleteResult",
        "EvoConfig",
        "EvoEncoder",
        "EvoMemError",
        "EvoMemory",
        "EvoMemoryClient",
        "Hit",
        "HitMetadata",
        "InvalidInputError",
        "InvalidTypeError",
        "JournalError",
        "LatentQueue",
        "LexicalIndexError",
        "MODES",
        "MemoryAPI",
        "MemoryClosedError",
        "Message",
        "ModelNotFoundError",
        "OtherModelWarning",
        "SearchOptions",
        "Segment",
        "SerialWorker",
        "StateCorruptedError",
        "StateDatabaseError",
        "StateMissingError",
        "StoreCorruptedError",
        "StoreFullError",
        "StoreNotFoundError",
        "StoreUpgradedError",
        "StreamEmbedder",
        "UpgradeReport",
        "load_encoder",
    ],
    "evomem.schema": [
        "DEFAULT_K",
        "DEFAULT_LEXICAL_WEIGHT",
        "DEFAULT_MODE",
        "DEFAULT_MAX_MESSAGE_CHARS",
        "DEFAULT_NAMESPACE",
        "MESSAGE_KEYS",
        "MODES",
        "RESERVED_METADATA",
        "AddResult",
        "Candidate",
        "ChannelScores",
        "DeleteResult",
        "Hit",
        "HitMetadata",
        "Message",
        "SearchOptions",
        "Segment",
        "StoredSegment",
        "check_count",
        "check_ids",
        "check_metadata",
        "check_min_score",
        "check_mode",
        "check_namespace",
        "check_roles",
        "check_text",
        "check_texts",
        "iso_time",
        "parse_timestamp",
        "to_message",
        "to_messages",
    ],
}


@pytest.mark.parametrize("module", [evomem, evomem.schema], ids=["evomem", "evomem.schema"])
def test_the_public_surface_is_pinned_and_every_name_resolves(module):
    assert module.__all__ == PUBLIC[module.__name__]
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_every_error_has_the_one_base_and_keeps_its_builtin_kind():
    errors = [getattr(evomem, name) for name in evomem.__all__ if name.endswith("Error")]
    assert len(errors) == 15
    for error in errors:
        assert issubclass(error, evomem.EvoMemError), error
        assert error is evomem.EvoMemError or len(error.__mro__) > 3, f"{error.__name__} lost its builtin base"
    assert issubclass(evomem.InvalidInputError, ValueError) and issubclass(evomem.InvalidTypeError, TypeError)
    assert issubclass(evomem.StoreFullError, OSError) and issubclass(evomem.StoreNotFoundError, FileNotFoundError)


def adapter_files() -> list[Path]:
    integrations = ROOT / "integrations"
    return [
        path
        for path in integrations.rglob("*.py")
        if "tests" not in path.relative_to(integrations).parts
        and path.name not in ("conftest.py", "__init__.py")
        and path.parent != integrations
    ]


def test_the_adapters_use_public_names_only():
    files = adapter_files()
    assert len(files) >= 6
    private = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name.startswith("evomem") for a in node.names):
                private.append(f"{path.name}: import {', '.join(a.name for a in node.names)}")
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evomem":
                public = PUBLIC.get(node.module, [])
                private += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name not in public]
    assert not private, "adapters import names outside the public surface:\n" + "\n".join(private)


@pytest.mark.system
def test_opening_a_store_and_searching_loads_no_research_code(tiny_bert_dir, tmp_path):
    """Through the library and through the command line."""
    script = f"""
import sys
from evomem import EvoMemory
with EvoMemory({str(tmp_path / "lib")!r}, model={str(tiny_bert_dir)!r}) as memory:
    memory.add_messages([{{"content": "the cat sat on the mat"}}], "n")
    assert memory.search("cat", "n")
from evomem.cli import main
sys.argv = ["evomem", "--path", {str(tmp_path / "lib")!r}, "--model", {str(tiny_bert_dir)!r}, "search", "cat",
            "--namespace", "n"]
try:
    main()
except SystemExit as stop:
    assert not stop.code, stop.code
print(sorted(m for m in sys.modules if m.startswith({RESEARCH!r})))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
