"""Evaluation: loaders on small fixture files in each format, metrics, systems and the report."""

from __future__ import annotations

import json

import pytest
from conftest import small_config

from evomem import EvoEncoder
from evomem.evaluation import evaluate, load_task, score_ranking
from evomem.evaluation.runner import markdown_table, write_outputs
from evomem.search.ranking import reciprocal_rank_fusion

LOCOMO = [
    {
        "sample_id": "conv-a",
        "conversation": {
            "speaker_a": "Maya",
            "speaker_b": "Leo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Maya", "dia_id": "D1:1", "text": "I adopted a beagle called Pepper."},
                {
                    "speaker": "Leo",
                    "dia_id": "D1:2",
                    "text": "Lovely, I work at a bakery.",
                    "blip_caption": "a loaf of bread",
                },
            ],
            "session_2_date_time": "9:00 am on 9 June, 2023",
            "session_2": [{"speaker": "Maya", "dia_id": "D2:1", "text": "Pepper loves the beach."}],
        },
        "qa": [
            {"question": "What is Maya's dog called?", "answer": "Pepper", "evidence": ["D1:1"], "category": 4},
            {"question": "Where do they go?", "answer": "beach", "evidence": ["D1:1; D2:1"], "category": 1},
            {"question": "Adversarial?", "adversarial_answer": "none", "evidence": ["D1:2"], "category": 5},
            {"question": "No evidence", "answer": "x", "evidence": [], "category": 2},
        ],
    }
]


def _write_beir(directory, candidates: bool):
    corpus = [
        {"_id": "c1", "text": "the cat sat", "title": "Cats"},
        {"_id": "c2", "text": "dogs bark"},
        {"_id": "c3", "text": "birds sing"},
    ]
    (directory / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus))
    queries = [
        {"_id": "q1", "text": "cat"},
        {"_id": "q2", "text": "bark", "category": "easy"},
        {"_id": "q3", "text": "x"},
    ]
    (directory / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (directory / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tc1\t1\nq2\tc2\t1\n")
    if candidates:
        rows = [{"query_id": "q1", "candidates": ["c1", "c2"]}, {"query_id": "q2", "candidates": ["c2", "c3"]}]
        (directory / "candidates.jsonl").write_text("\n".join(json.dumps(r) for r in rows))


def test_locomo_loader(tmp_path):
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(LOCOMO))
    task = load_task("locomo", path)
    (group,) = task.groups
    assert group.segment_ids == ("D1:1", "D1:2", "D2:1")
    assert group.texts[1] == "Leo: Lovely, I work at a bakery. [shares a photo: a loaf of bread]"
    assert [(q.relevant, q.category) for q in task.queries] == [
        (frozenset({"D1:1"}), "4"),
        (frozenset({"D1:1", "D2:1"}), "1"),
        (frozenset({"D1:2"}), "5"),
    ]
    assert task.headline_excludes == {"5"}


def test_realtalk_loader(tmp_path):
    chat = {
        "name": {"speaker_1": "A", "speaker_2": "B"},
        "session_1_date_time": "29.12.2023, 14:32:10",
        "session_1": [
            {"clean_text": "Hello there", "text": "hello  there!!", "speaker": "A", "dia_id": "D1:1"},
            {"clean_text": "I run daily", "speaker": "B", "dia_id": "D1:2"},
        ],
        "qa": [{"question": "Who runs?", "answer": "B", "evidence": ["D1:2"], "category": 1}],
    }
    (tmp_path / "Chat_1_A_B.json").write_text(json.dumps(chat))
    task = load_task("realtalk", tmp_path)
    assert task.groups[0].texts == ("A: Hello there", "B: I run daily")
    assert task.queries[0].relevant == {"D1:2"}
    with pytest.raises(ValueError, match="Chat_"):
        load_task("realtalk", tmp_path / "..")


def test_longmemeval_loader(tmp_path):
    entries = [
        {
            "question_id": "q1",
            "question_type": "temporal-reasoning",
            "question": "When did I buy shoes?",
            "answer": "May",
            "haystack_session_ids": ["s1", "s2"],
            "haystack_sessions": [
                [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                [{"role": "user", "content": "I bought shoes in May", "has_answer": True}],
            ],
            "answer_session_ids": ["s2"],
        }
    ]
    path = tmp_path / "longmemeval_s.json"
    path.write_text(json.dumps(entries))
    task = load_task("longmemeval", path)
    assert task.groups[0].segment_ids == ("s1:0", "s1:1", "s2:0")
    assert task.queries[0].relevant == {"s2:0"} and task.queries[0].category == "temporal-reasoning"


@pytest.mark.parametrize("candidates", [False, True])
def test_beir_loader(tmp_path, candidates):
    _write_beir(tmp_path, candidates)
    task = load_task("beir", tmp_path)
    assert [q.id for q in task.queries] == ["q1", "q2"]
    assert task.queries[1].category == "easy"
    assert len(task.groups) == (2 if candidates else 1)
    assert task.groups[0].texts[0] == "Cats the cat sat"


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(ValueError, match="unknown task format"):
        load_task("squad", tmp_path)
    with pytest.raises(FileNotFoundError):
        load_task("locomo", tmp_path / "nope.json")


def test_metrics():
    scores = score_ranking(["a", "b", "c", "d"], {"b", "z"})
    assert scores["recall@1"] == 0 and scores["recall@5"] == 0.5 and scores["mrr"] == 0.5
    assert scores["ndcg@10"] == pytest.approx((1 / 1.5849625) / (1 + 1 / 1.5849625), rel=1e-5)
    assert score_ranking(["a"], {"a"})["ndcg@10"] == 1.0
    with pytest.raises(ValueError):
        score_ranking(["a"], set())


def test_reciprocal_rank_fusion_prefers_agreement():
    assert list(reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "c"]]))[-1] == "c"
    assert list(reciprocal_rank_fusion([["a", "b"], ["b", "c"]]))[0] == "b"


def test_evaluate_all_systems_and_write_report(tmp_path, tiny_bert_dir, monkeypatch):
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(LOCOMO))
    encoder = EvoEncoder(small_config(tiny_bert_dir))
    systems = ["evomem", "static", "bm25", "bm25+static", "bm25+evomem"]
    results = evaluate(load_task("locomo", path), encoder, systems, show_progress=False)
    assert list(results["systems"]) == systems
    bm25 = results["systems"]["bm25"]
    assert bm25["overall"]["n"] == 2 and bm25["categories"]["5"]["n"] == 1
    assert bm25["categories"]["4"]["recall@1"] == 100.0  # "dog called" has no lexical hit; "Maya's" does
    table = markdown_table(results)
    assert "| bm25+evomem | 2 |" in table
    assert "| system (R@10) | multi-hop (1) | single-hop (4) | adversarial (5) |" in table  # names, not numbers
    from matplotlib.axes import Axes

    ticks = []
    set_xticks = Axes.set_xticks
    monkeypatch.setattr(Axes, "set_xticks", lambda axes, *args: ticks.append(args[1:]) or set_xticks(axes, *args))
    paths = write_outputs(results, tmp_path / "out")
    assert (["multi-hop (1)", "single-hop (4)", "adversarial (5)"],) in ticks  # the bars are labelled by name
    assert json.loads(paths["json"].read_text())["task"] == "locomo"
    assert paths["plot"].stat().st_size > 1000


def test_temporal_probe_places_one_mention_per_third(tiny_bert_dir):
    from evomem.evaluation.probe import THIRDS, make_probes, probe_table, run_probe

    probes = make_probes(count=5, length=30)
    for item in probes:
        mentions = [i for i, text in enumerate(item.group.texts) if ": About " in text]
        assert [m * 3 // 30 for m in mentions] == [0, 1, 2]
        assert set(item.queries) == set(THIRDS)
    results = run_probe(EvoEncoder(small_config(tiny_bert_dir)), ("evomem", "bm25"), count=5)
    assert set(results) == {"evomem", "bm25"}
    assert all(0 <= value <= 100 for row in results.values() for value in row.values())
    assert "| bm25 |" in probe_table(results)


def test_records_are_asked_at_their_points_and_the_product_search_ranks_like_the_model(tmp_path, tiny_bert_dir):
    """A stream record's questions see only the segments before them; ``search-evolvable`` (the product's own
    ingest and search) ranks exactly as the evolvable model read directly, and ``search-lexical`` finds words."""
    segments = [f"Speaker{i % 3}: note {i} about the {word}" for i, word in enumerate(["cello", "harbour"] * 12)]
    record = {
        "segments": segments,
        "queries": [
            {"query": "cello", "evidence": [0], "at": 3},  # only segments 0-2 exist yet
            {"query": "harbour", "evidence": [1, 3], "at": 6},
            {"query": "the note about the cello", "evidence": [22], "at": 24},
        ],
        "source": "friendsqa",
    }
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "source": "qmsum"}) + "\n")
    task = load_task("records", path)
    assert [q.at for q in task.queries] == [3, 6, 24, 3, 6, 24] and len(task.first(1).queries) == 3
    encoder = EvoEncoder(small_config(tiny_bert_dir))
    systems = ["evomem", "search-evolvable", "search-lexical", "search-hybrid"]
    results = evaluate(task, encoder, systems, show_progress=False)
    per_query = results["per_query"]
    assert [row["mrr"] for row in per_query["evomem"]] == pytest.approx(
        [row["mrr"] for row in per_query["search-evolvable"]]
    )
    assert per_query["search-lexical"][0]["recall@1"] == 1.0  # one cello segment among the first three
    assert per_query["search-lexical"][1]["recall@5"] == 1.0
    assert set(results["systems"]["search-hybrid"]["categories"]) == {"friendsqa", "qmsum"}


def test_a_stopped_evaluation_resumes_from_its_log(tmp_path, tiny_bert_dir, monkeypatch):
    """Groups scored before a stop are read back from the log, a line cut off by the stop is scored again,
    the results equal an uninterrupted run's and the log is gone once they are complete."""
    from evomem.evaluation.systems import EvolvableRanker

    segments = [f"Speaker{i % 2}: line {i} about the {word}" for i, word in enumerate(["oboe", "pier", "kiln"] * 4)]
    records = [
        {"segments": segments, "queries": [{"query": word, "evidence": [i], "at": 12}], "source": f"source{i}"}
        for i, word in enumerate(["oboe", "pier", "kiln"])
    ]
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    task = load_task("records", path)
    encoder = EvoEncoder(small_config(tiny_bert_dir))
    systems = ["evomem", "bm25"]
    uninterrupted = evaluate(task, encoder, systems, show_progress=False)

    ranked, rank_points = [], EvolvableRanker.rank_points

    def stop_at_the_third_group(ranker, group, points):
        ranked.append(group.id)
        if len(ranked) == 3:
            raise KeyboardInterrupt
        return rank_points(ranker, group, points)

    monkeypatch.setattr(EvolvableRanker, "rank_points", stop_at_the_third_group)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        evaluate(task, encoder, systems, show_progress=False, resume_dir=out)
    (log,) = out.glob("eval-*.partial.jsonl")
    assert len(log.read_text().splitlines()) == 2
    log.write_text(log.read_text() + '{"group": "' + task.groups[2].id + '", "rows": {"evom')  # a cut-off line

    ranked.clear()
    monkeypatch.setattr(EvolvableRanker, "rank_points", lambda r, g, p: ranked.append(g.id) or rank_points(r, g, p))
    assert evaluate(task, encoder, ["bm25"], show_progress=False, resume_dir=out)["systems"]  # another digest
    assert ranked == [] and log.exists()
    resumed = evaluate(task, encoder, systems, show_progress=False, resume_dir=out)
    assert ranked == [task.groups[2].id]
    assert resumed == uninterrupted
    assert not log.exists()
