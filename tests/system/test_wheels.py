"""The four distributions build as wheels and sdists, and the wheels work when installed (not ``-e``).

The wheels go into a fresh virtual environment with ``--no-deps``; their dependencies are lent by this
environment's site-packages through a path entry (whose ``.pth`` files, and so this checkout's editable
installs, are not read), and the smoke run starts in an empty directory. So everything evomem and the adapters
import comes from the wheels: the package data (the default model's weights, the sample data) included.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = [
    ROOT,
    ROOT / "integrations/langchain",
    ROOT / "integrations/llama-index/llama-index-embeddings-evomem",
    ROOT / "integrations/llama-index/llama-index-memory-evomem",
]
# not part of any distribution: left out of the copies that are built
LEFT_OUT = (
    ".git",
    "results",
    "runs",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "integrations",
    "docs",
    "scripts",
)
SMOKE = """
import json, sys, tempfile
import evomem, langchain_evomem
from llama_index.embeddings.evomem import EvoEmbedding
from llama_index.memory.evomem import EvoMemoryBlock
from evomem import EvoMemory
with tempfile.TemporaryDirectory() as path, EvoMemory(path) as memory:  # the real default model, from the wheel
    memory.add_messages([{"content": "Maya adopted a cat named Miso"}, {"content": "The bakery opens at 7"}], "n")
    hits = memory.search("What pet does Maya have?", "n", k=1)
print(json.dumps({"files": [evomem.__file__, langchain_evomem.__file__], "hit": hits[0].text}))
"""

pytestmark = pytest.mark.system


def name_of(project: Path) -> str:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    copies = tmp_path_factory.mktemp("projects")
    for project in PROJECTS:  # copies, so that no build folder is left in the checkout
        copy = copies / project.name
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns(*LEFT_OUT))
        # the backends (setuptools, hatchling) come from the dev install
        command = [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out)]
        done = subprocess.run([*command, str(copy)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_each_distribution_builds_a_wheel_and_an_sdist_under_its_own_name(built):
    names = sorted(path.name for path in built.iterdir())
    for project in PROJECTS:
        stem = name_of(project).replace("-", "_")
        assert any(n.startswith(stem + "-") and n.endswith(".whl") for n in names), (stem, names)
        assert any(n.startswith(stem + "-") and n.endswith(".tar.gz") for n in names), (stem, names)
    assert name_of(ROOT) == "evomem-core"
    core = next(built.glob("evomem_core-*.whl"))
    with zipfile.ZipFile(core) as wheel:
        listed = wheel.namelist()
        metadata = wheel.read(next(n for n in listed if n.endswith("METADATA"))).decode().splitlines()
    assert any(n.startswith("evomem/weights/default/") and n.endswith(".safetensors") for n in listed)
    assert "evomem/py.typed" in listed and "evomem/data/sample_conversation.json" in listed
    assert not [n for n in listed if n.startswith(("tests/", "scripts/", "results/"))]
    assert "Name: evomem-core" in metadata
    for adapter in PROJECTS[1:]:
        declared = tomllib.loads((adapter / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
        assert any(d.startswith("evomem-core") for d in declared), adapter


def test_the_installed_wheels_remember_and_recall(built, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    wheels = [str(path) for path in sorted(built.glob("*.whl"))]
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", *wheels]
    done = subprocess.run(install, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    (fresh / "lent-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    workdir = tmp_path / "empty"
    workdir.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(python), "-c", SMOKE], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(Path(file).is_relative_to(fresh) for file in result["files"]), result["files"]
    assert "Miso" in result["hit"]
    done = subprocess.run(
        [str(venv / "bin" / "evomem"), "--help"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "search" in done.stdout, done.stderr[-2000:]
