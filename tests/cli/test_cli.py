"""The evomem command line, run in-process with click's runner."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

from evomem.cli import main
from evomem.storage.store import SegmentStore


def _run(args, tmp_path, model=None):
    base = ["--path", str(tmp_path / "data")] + (["--model", str(model)] if model else [])
    result = CliRunner().invoke(main, base + args, catch_exceptions=False)
    return result


def test_ingest_search_stats_delete(tmp_path, tiny_bert_dir):
    chat = tmp_path / "chat.jsonl"
    lines = [{"role": "user", "name": "Maya", "content": f"message {i} about dogs", "id": f"m{i}"} for i in range(6)]
    chat.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = _run(["ingest", str(chat), "--namespace", "maya"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 0 and "stored 6 messages in namespace maya\n" in result.output
    result = _run(["ingest", str(chat), "--namespace", "maya"], tmp_path, tiny_bert_dir)  # a retried ingest
    assert "stored 0 messages in namespace maya; 6 already stored unchanged, skipped\n" in result.output
    result = _run(["search", "dogs", "--namespace", "maya", "-k", "3", "--json"], tmp_path, tiny_bert_dir)
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert len(hits) == 3 and all(hit["id"].startswith("m") and 0 <= hit["score"] <= 1 for hit in hits)
    result = _run(["search", "cats", "-n", "maya", "--mode", "lexical", "--json"], tmp_path, tiny_bert_dir)
    assert (result.exit_code, result.stdout) == (1, "")  # no stored message has the word
    assert result.stderr == "no hits\n"
    result = _run(["search", "dogs", "-n", "maya", "--mode", "dense"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 2 and "dense" in result.output
    result = _run(["check"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 0 and result.output == "namespace maya: ok\n"
    stats = json.loads(_run(["stats"], tmp_path, tiny_bert_dir).output)
    assert stats["segments"] == 6 and stats["namespace"] == "maya"
    result = _run(["delete-namespace", "--namespace", "maya", "--yes"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 0 and result.output == "deleted namespace maya: 6 messages (6 segments), its memory\n"
    assert _run(["stats"], tmp_path, tiny_bert_dir).output == ""


def test_delete_says_what_was_deleted_and_what_is_not_there(tmp_path, tiny_bert_dir):
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"content": f"turn {i}", "id": f"m{i}"}) + "\n" for i in range(3)))
    _run(["ingest", str(chat), "-n", "user:42"], tmp_path, tiny_bert_dir)
    result = _run(["delete-namespace", "-n", "typo-ns", "--yes"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 2 and result.output.startswith("Error: no namespace 'typo-ns' in the store at ")
    result = _run(["delete", "-n", "user:42", "--yes"], tmp_path, tiny_bert_dir)  # no --id: never the namespace
    assert result.exit_code == 2 and "evomem delete-namespace" in result.output
    result = _run(["delete", "-n", "user:42", "--id", "DOES-NOT-EXIST", "--yes"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 1
    assert result.output == "0 of 1 ids found in namespace user:42: nothing deleted\nnot found: DOES-NOT-EXIST\n"
    result = _run(["delete", "-n", "user:42", "--id", "m0", "--yes"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 0 and result.output.startswith("deleted 1 of 1 ids (1 segments) of namespace user:42\n")
    assert "stays until `evomem reembed --rebuild --namespace user:42`" in result.output
    again = ["delete", "-n", "user:42", "--id", "m1", "--id", "m0", "--rebuild", "--yes"]
    result = _run(again, tmp_path, tiny_bert_dir)
    assert result.exit_code == 1 and "deleted 1 of 2 ids" in result.output and "not found: m0" in result.output
    assert "rebuilt the memory of namespace user:42 (step 3)" in result.output
    stats = json.loads(_run(["stats", "-n", "user:42"], tmp_path, tiny_bert_dir).output)
    assert (stats["messages"], stats["memory_step"]) == (1, 3)


def test_help_and_usage_errors_load_no_model_libraries():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from evomem.cli import main\n"
        "runner = CliRunner()\n"
        "assert runner.invoke(main, ['--help']).exit_code == 0\n"
        "assert runner.invoke(main, ['demo', '--help']).exit_code == 0\n"
        "assert runner.invoke(main, ['ingest']).exit_code == 2\n"
        "assert runner.invoke(main, ['bench', '--turns', 'x']).exit_code == 2\n"
        "print(sorted({'torch', 'transformers', 'chromadb', 'sentence_transformers'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_demo_help_names_the_data_the_demo_reads():
    from evomem.demo import LOCOMO_DEV

    help_text = " ".join(CliRunner().invoke(main, ["demo", "--help"]).output.split())
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    for where in ("$EVOMEM_DEMO_DATA", LOCOMO_DEV.as_posix(), "working directory or a parent"):
        assert where in help_text and where.lstrip("$") in readme


def test_check_exits_1_and_lists_what_search_cannot_reach(tmp_path, tiny_bert_dir, monkeypatch):
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"role": "user", "content": "one", "id": "m0"}) + "\n")
    _run(["ingest", str(chat), "--namespace", "maya"], tmp_path, tiny_bert_dir)
    monkeypatch.setattr(SegmentStore, "unsearchable", lambda self, namespace: ["maya:0"])  # as a damaged index
    result = _run(["check"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 1
    assert result.output == "namespace maya: unsearchable: 1 segments not searchable by vector: maya:0\n"


def test_ingest_refuses_a_message_over_the_size_cap(tmp_path, tiny_bert_dir):
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"content": "a" * 30, "id": "long"}) + "\n")
    result = _run(["ingest", str(chat), "-n", "maya", "--max-message-chars", "20"], tmp_path, tiny_bert_dir)
    assert result.exit_code == 2 and "has 30 characters, over the limit of 20 (max_message_chars)" in result.output
    assert (
        _run(["ingest", str(chat), "-n", "maya", "--max-message-chars", "30"], tmp_path, tiny_bert_dir).exit_code == 0
    )


def test_ingest_reports_bad_lines(tmp_path, tiny_bert_dir):
    chat = tmp_path / "chat.jsonl"
    chat.write_text('{"role": "user", "content": "fine"}\n{not json}\n')
    result = CliRunner().invoke(
        main, ["--path", str(tmp_path), "--model", str(tiny_bert_dir), "ingest", str(chat), "-n", "x"]
    )
    assert result.exit_code != 0 and "chat.jsonl:2" in result.output
    chat.write_text('{"role": "user", "content": ""}\n')
    result = CliRunner().invoke(
        main, ["--path", str(tmp_path), "--model", str(tiny_bert_dir), "ingest", str(chat), "-n", "x"]
    )
    assert result.exit_code != 0 and "empty" in result.output
    chat.write_text('{"content": "one", "id": "a"}\n{"content": "two", "id": "b"}\n{"content": "three", "id": "a"}\n')
    result = CliRunner().invoke(
        main, ["--path", str(tmp_path), "--model", str(tiny_bert_dir), "ingest", str(chat), "-n", "x"]
    )
    assert result.exit_code == 2 and "chat.jsonl:3: message id 'a' is on line 1 already" in result.output


def test_demo_on_the_bundled_sample_with_the_real_default_model(tmp_path):
    sample = files("evomem") / "data" / "sample_conversation.json"
    result = _run(["demo", "--data", str(sample)], tmp_path)
    assert result.exit_code == 0, result.output
    assert "=== after session 3" in result.output
    assert "Evidence recall@3 over 7 questions" in result.output


def test_data_build_mixes_documents_and_names_bad_shares(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    text = " ".join(f"Line {i} tells how the lighthouse keeper painted the tower number {i % 5}." for i in range(40))
    (docs / "keeper.md").write_text(text, encoding="utf-8")
    output = tmp_path / "train.jsonl"
    args = ["data", "build", "--output", str(output), "--count", "20", "--documents", str(docs)]
    result = _run([*args, "--document-share", "0.5"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "document/inverse_cloze" in result.output and len(output.read_text().splitlines()) == 20
    result = _run([*args, "--msc-share", "0.7", "--document-share", "0.5"], tmp_path)
    assert result.exit_code != 0 and "must not exceed 1" in result.output


def _error_line(args, tmp_path, model) -> str:
    """Run a command that must fail with one ``Error:`` line and exit code 2; return that line."""
    result = _run(args, tmp_path, model)
    lines = result.output.strip().splitlines()
    assert (result.exit_code, len(lines), lines[0][:7]) == (2, 1, "Error: "), result.output
    return lines[0]


def test_bad_input_and_damaged_stores_are_one_error_line(tmp_path, tiny_bert_dir):
    chat = tmp_path / "chat.jsonl"
    for content, expected in [
        (b'{"content": "fine"}\n\xff\xfe binary\n', "chat.jsonl:2: not UTF-8"),
        (b"[" * 100_000 + b"\n", "chat.jsonl:1: JSON nested too deeply"),
        (b'{"content": "fine"}\n{"content": ""}\n', "chat.jsonl:2: message content is empty"),
        (b'{"content": "x", "metadata": {"a": {"b": 1}}}\n', "chat.jsonl:1: metadata value for 'a' must be"),
    ]:
        chat.write_bytes(content)
        assert expected in _error_line(["ingest", str(chat), "-n", "maya"], tmp_path, tiny_bert_dir)
    assert "invalid namespace 'a\\tb'" in _error_line(["stats", "-n", "a\tb"], tmp_path, tiny_bert_dir)
    assert "invalid namespace ' '" in _error_line(["delete", "-n", " ", "--yes"], tmp_path, tiny_bert_dir)
    assert "message id is empty" in _error_line(["delete", "-n", "x", "--id", "", "--yes"], tmp_path, tiny_bert_dir)
    pickled = Path(shutil.copytree(tiny_bert_dir, tmp_path / "pickled"))
    for weights in pickled.glob("*.safetensors"):
        weights.unlink()
    (pickled / "pytorch_model.bin").write_bytes(b"pickle")
    (tmp_path / "data" / "state").mkdir(parents=True, exist_ok=True)  # a store: the model is what fails
    assert "never loads pickled weights" in _error_line(["stats"], tmp_path, pickled)
    file = tmp_path / "a-file"
    file.write_text("not a store")
    result = CliRunner().invoke(main, ["--path", str(file), "--model", str(tiny_bert_dir), "stats"])
    assert (
        result.exit_code == 2
        and result.output == f"Error: path {file} cannot be a directory: {file} is a file; pass a directory\n"
    )
    chat.write_text('{"content": "Pepper is a beagle."}\n')
    assert _run(["ingest", str(chat), "-n", "maya"], tmp_path, tiny_bert_dir).exit_code == 0
    state = next((tmp_path / "data" / "state").glob("*/*.safetensors"))
    state.write_bytes(b"damaged")
    line = _error_line(["search", "dog", "-n", "maya"], tmp_path, tiny_bert_dir)
    assert f"memory state {state} is unreadable" in line and "reembed --rebuild --namespace maya" in line


def test_bench_says_when_the_sample_is_short_and_no_scaling_skips_scaling(tmp_path, monkeypatch):
    import evomem.bench as bench
    import evomem.model.loading

    ran = []
    monkeypatch.setattr(evomem.model.loading, "load_encoder", lambda model: None)
    for stage in ("bench_ingest", "bench_query_encode", "bench_peak_memory", "bench_linearity", "bench_query_scaling"):
        monkeypatch.setattr(bench, stage, lambda *args, stage=stage, **kwargs: ran.append(stage) or {stage: 1.0})
    sample = Path(str(files("evomem") / "data" / "sample_conversation.json"))
    result = CliRunner().invoke(main, ["bench", "--data", str(sample), "--turns", "100", "--no-scaling"])
    assert result.exit_code == 0 and ran == ["bench_ingest", "bench_query_encode", "bench_peak_memory"]
    assert f"note: {sample} has 36 turns, fewer than the 100 asked: benchmarking 36" in result.output


@pytest.mark.system
def test_bench_measures_peak_memory_in_a_process_that_starts_small(model_dir):
    """A spawned child's ``ru_maxrss`` starts at its big parent's; each mode's figure must be the child's own."""
    from evomem.bench import bench_peak_memory

    ballast = bytearray(1500 * 2**20)  # 1.5 GB resident in this process, more than any child needs
    ballast[::4096] = b"x" * len(ballast[::4096])
    peaks = bench_peak_memory(str(model_dir), [f"turn {i} about the harbour" for i in range(8)])
    del ballast
    assert set(peaks) == {f"{mode}_peak_rss_mb" for mode in ("static", "evolvable_batched", "evolvable_sequential")}
    assert all(0 < peak < 1500 for peak in peaks.values()), peaks


def test_commands_do_not_print_the_transformers_gradient_checkpointing_warning(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (tmp_path / "data" / "state").mkdir(parents=True)  # an empty store
        assert _run(["stats"], tmp_path).exit_code == 0  # loads the real default model
        warnings.warn("is_gradient_checkpointing elsewhere", UserWarning, stacklevel=1)  # only that one is silenced
    assert [str(w.message) for w in caught if "is_gradient_checkpointing" in str(w.message)] == [
        "is_gradient_checkpointing elsewhere"
    ]


@pytest.mark.system
def test_the_contract_through_the_command_line_as_a_subprocess(tmp_path, model_dir):
    """Global options after the subcommand, reads that create nothing, safe re-runs without ids, list and
    export that ingest reads back, calibrated scores with ISO times, and no namespace deleted without --id."""
    from service_servers import child_env, evomem_command

    def evomem(*args: str) -> subprocess.CompletedProcess:
        command = evomem_command(model_dir, *args)
        return subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=300)

    typo = tmp_path / "typo" / "dir"
    missing = evomem("search", "dog", "-n", "maya", "--path", str(typo))
    assert missing.returncode == 2 and "no evomem store at" in missing.stderr and not (tmp_path / "typo").exists()
    store = str(tmp_path / "store")
    chat = tmp_path / "chat.jsonl"
    long = " ".join(f"word{i}" for i in range(300))  # stored in parts, exported whole
    lines = [
        {"content": "I adopted a beagle called Pepper.", "name": "Maya", "timestamp": "2025-03-06T09:15:00Z"},
        {"content": "ok"},
        {"content": "ok"},
        {"content": long, "metadata": {"topic": "words"}},
    ]
    chat.write_text("".join(json.dumps(line) + "\n" for line in lines))
    first = evomem("ingest", str(chat), "-n", "maya", "--path", store)
    assert first.returncode == 0 and "stored 4 messages" in first.stdout, first.stderr
    again = evomem("ingest", str(chat), "--path", store, "-n", "maya")  # no ids in the file: still no duplicates
    assert "stored 0 messages in namespace maya; 4 already stored unchanged, skipped" in again.stdout
    wrong_case = evomem("search", "dog", "-n", "Maya", "--path", store)
    assert wrong_case.returncode == 2 and "did you mean 'maya'" in wrong_case.stderr
    found = evomem("search", "beagle", "-n", "maya", "--json", "--mode", "lexical", "--path", store)
    hit = json.loads(found.stdout.splitlines()[0])
    assert 0 <= hit["score"] <= 1 and hit["timestamp"] == "2025-03-06T09:15:00Z" and hit["created_at"].endswith("Z")
    assert hit["scores"]["lexical"] > 0 and hit["scores"]["evolvable"] is None
    nothing = evomem("search", "beagle", "-n", "maya", "--min-score", "1", "--path", store)
    assert (nothing.returncode, nothing.stdout, nothing.stderr.splitlines()[-1]) == (1, "", "nothing relevant")
    misspelt = tmp_path / "misspelt.jsonl"
    misspelt.write_text(json.dumps({"content": "hi", "timestmp": "2025-01-01"}) + "\n")
    refused_line = evomem("ingest", str(misspelt), "-n", "maya", "--path", store)
    assert refused_line.returncode == 2 and "misspelt.jsonl:1: unknown message key 'timestmp'" in refused_line.stderr
    listed = evomem("list", "-n", "maya", "--limit", "2", "--offset", "1", "--path", store)
    assert [line.split("]")[1].strip() for line in listed.stdout.splitlines()] == ["user: ok", "user: ok"]
    exported = tmp_path / "export.jsonl"
    assert evomem("export", "-n", "maya", "-o", str(exported), "--path", store).returncode == 0
    messages = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [m["content"] for m in messages] == [line["content"] for line in lines]
    assert messages[0]["name"] == "Maya" and messages[3]["metadata"] == {"topic": "words"}
    assert evomem("ingest", str(exported), "-n", "copy", "--path", store).returncode == 0
    copied = evomem("export", "-n", "copy", "--path", store)
    assert [json.loads(line) for line in copied.stdout.splitlines()] == messages  # the same ids, text and times
    refused = evomem("delete", "-n", "maya", "--yes", "--path", store)
    assert refused.returncode == 2 and "delete-namespace" in refused.stderr
    gone = evomem("delete-namespace", "-n", "copy", "--yes", "--path", store)
    assert gone.returncode == 0 and "deleted namespace copy: 4 messages" in gone.stdout
