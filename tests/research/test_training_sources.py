"""Real-text training sources (documents, MSC dialogues), the data mix, and the plain-text check."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from evomem.evaluation.plain import load_plain_pairs, plain_recall
from evomem.model.loading import load_encoder
from evomem.training.data import build, load_records
from evomem.training.documents import document_samples, find_text_files, split_sentences
from evomem.training.msc import dialogue_samples, load_msc_dialogues

TOPICS = ("harbour", "lighthouse", "ferry", "market", "bridge", "library", "orchard", "station", "museum", "river")


def _write_document(path, sentences: int = 60, seed: int = 0):
    rng = random.Random(seed)
    lines = []
    for number in range(sentences):
        topic, other = rng.sample(TOPICS, 2)
        lines.append(f"Sentence {number} says that the old {topic} stood beside the {other} for many quiet years.")
    path.write_text(" ".join(lines[:30]) + "\n\n" + " ".join(lines[30:]), encoding="utf-8")
    return path


def _msc_turns(rng: random.Random, count: int, trip: int) -> list[dict]:
    return [
        {
            "id": f"Speaker {1 + i % 2}",
            "text": f"I keep thinking about the {rng.choice(TOPICS)} and the {rng.choice(TOPICS)} "
            f"we saw on day {i} of trip {trip}, it was lovely.",
        }
        for i in range(count)
    ]


def _write_msc(directory, episodes: int = 4):
    (directory / "session_2").mkdir(parents=True)
    rng = random.Random(1)
    with open(directory / "session_2" / "valid.txt", "w", encoding="utf-8") as handle:
        for trip in range(episodes):
            record = {"dialog": _msc_turns(rng, 10, trip), "previous_dialogs": [{"dialog": _msc_turns(rng, 8, trip)}]}
            handle.write(json.dumps(record) + "\n")
    return directory


def test_document_samples_take_a_sentence_out_and_point_at_the_windows_around_it(tmp_path):
    _write_document(tmp_path / "a.txt")
    samples = document_samples(find_text_files([tmp_path]), count=20, seed=0)
    assert len(samples) == 20
    for sample in samples:
        assert sample.template == "document/inverse_cloze" and sample.source == "document:a.txt"
        assert sample.evidence and all(0 <= i < len(sample.segments) for i in sample.evidence)
        assert all(sample.query not in segment for segment in sample.segments)  # removed from the stream
        number = int(sample.query.split()[1])  # "Sentence N says ..."
        held = " ".join(sample.segments[i] for i in sample.evidence)
        assert f"Sentence {number - 1} " in held and f"Sentence {number + 1} " in held


def test_sentences_join_short_fragments_and_keep_paragraphs_apart():
    assert split_sentences("One two three four. Ok.\n\nA new paragraph starts here.") == [
        "One two three four. Ok.",
        "A new paragraph starts here.",
    ]


def test_document_sources_reject_missing_and_too_short_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_text_files([tmp_path / "missing"])
    (tmp_path / "short.txt").write_text("Just one sentence here.", encoding="utf-8")
    with pytest.raises(ValueError, match="enough sentences"):
        document_samples([tmp_path / "short.txt"], count=3, seed=0)


def test_msc_dialogue_samples_query_a_removed_turn_with_its_neighbours_as_evidence(tmp_path):
    dialogues = load_msc_dialogues(_write_msc(tmp_path / "msc"))
    assert len(dialogues) == 4 and [len(s) for s in dialogues[0]] == [8, 10]
    for sample in dialogue_samples(dialogues, count=10, seed=0):
        assert sample.template == "msc/inverse_cloze" and len(sample.evidence) == 2
        assert all(sample.query not in segment for segment in sample.segments)
        before, after = (sample.segments[i] for i in sample.evidence)
        assert sample.evidence[1] == sample.evidence[0] + 1 and ": " in before and ": " in after


def test_build_mixes_sources_by_share_and_validates_shares(tmp_path):
    (tmp_path / "docs").mkdir()
    _write_document(tmp_path / "docs" / "a.txt")
    families = build(
        tmp_path / "mix.jsonl",
        40,
        seed=0,
        msc_dir=_write_msc(tmp_path / "msc"),
        documents=[tmp_path / "docs"],
        msc_share=0.25,
        document_share=0.25,
        show_progress=False,
    )
    assert families.questions["msc/inverse_cloze"] == 10 and families.questions["document/inverse_cloze"] == 10
    assert families.records == {"msc": 10, "document:a.txt": 10, "synthetic": 20}
    assert len(load_records(tmp_path / "mix.jsonl")) == 40
    with pytest.raises(ValueError, match="must not exceed 1"):
        build(tmp_path / "x.jsonl", 4, 0, None, msc_share=0.6, document_share=0.6, show_progress=False)
    with pytest.raises(ValueError, match=r"msc_share must lie in \[0, 1\]"):
        build(tmp_path / "x.jsonl", 4, 0, None, msc_share=-0.1, show_progress=False)


def test_plain_pairs_have_one_passage_per_query_plus_distractors():
    queries, passages = load_plain_pairs()
    assert len(queries) >= 30 and len(passages) >= 2 * len(queries) - 1
    assert len(set(passages)) == len(passages)


def test_the_shipped_model_still_embeds_plain_text():
    figures = plain_recall(load_encoder(None))
    assert figures["plain_static_r@1"] >= 90  # the check is answerable
    assert figures["plain_r@1"] >= figures["plain_static_r@1"] - 5  # and the trained model has not forgotten


# ----- real-language stream sources (FriendsQA, QMSum, SGD), the split, and the mix ---------------------------


def _utterance(uid: int, speaker: str, text: str) -> dict:
    return {"uid": uid, "speakers": [speaker], "utterance": text}


def _answer(text: str, turn: int, is_speaker: bool = False) -> dict:
    return {"answer_text": text, "utterance_id": turn, "inner_start": 0, "inner_end": 0, "is_speaker": is_speaker}


def _friendsqa_scene(title: str) -> dict:
    """Six turns (one a stage direction) and six questions: four good, one unverifiable, one giving its answer."""
    turns = [
        _utterance(0, "Ross Geller", f"I bought a red kayak for the trip in {title} ."),
        _utterance(1, "Monica Geller", "That sounds wonderful , where will you take it ?"),
        _utterance(2, "#NOTE#", "( Chandler walks in holding a giant turkey . )"),
        _utterance(3, "Chandler Bing", "Could this turkey BE any bigger ?"),
        _utterance(4, "Ross Geller", "We will paddle down the Hudson river next weekend ."),
        _utterance(5, "Monica Geller", "Then I will pack sandwiches for everybody ."),
    ]
    qas = [
        {"id": f"{title}_What", "question": f"What did Ross buy for {title} ?", "answers": [_answer("a red kayak", 0)]},
        {
            "id": f"{title}_What_Paraphrased",
            "question": f"Ross got what for {title} ?",
            "answers": [_answer("kayak", 0)],
        },
        {"id": f"{title}_Who", "question": "Who will pack food ?", "answers": [_answer("Monica Geller", 5, True)]},
        {"id": f"{title}_How", "question": "How does Chandler enter ?", "answers": [_answer("a giant turkey", 2)]},
        {"id": f"{title}_Where", "question": "Where will they go ?", "answers": [_answer("the Seine", 4)]},
        {"id": f"{title}_Why", "question": "Why does Ross buy a red kayak ?", "answers": [_answer("kayak", 0)]},
    ]
    return {"title": title, "paragraphs": [{"utterances:": turns, "qas": qas}]}


def _write_friendsqa(directory, episodes=("s01_e21", "s03_e22", "s03_e23", "s02_e21")):
    directory.mkdir()
    scenes = [_friendsqa_scene(f"{episode}_c{scene:02d}") for episode in episodes for scene in (3, 1)]
    (directory / "friendsqa_dev.json").write_text(json.dumps({"version": 2.0, "data": scenes}), encoding="utf-8")
    return directory


def test_friendsqa_chains_scenes_and_asks_each_question_at_the_end_of_its_scene(tmp_path):
    from evomem.training.friendsqa import friendsqa_streams

    streams = friendsqa_streams(_write_friendsqa(tmp_path / "fq"), count=12, seed=0)
    templates = set()
    for stream in streams:
        episode = stream.group.removeprefix("friendsqa:")
        assert stream.source == "friendsqa" and episode in {"s01_e21", "s03_e22", "s03_e23", "s02_e21"}
        scenes = [s.split(" in ")[1].rstrip(".") for s in stream.segments if s.startswith("Ross Geller: I bought")]
        assert scenes in ([f"{episode}_c01", f"{episode}_c03"], [f"{episode}_c01"], [f"{episode}_c03"])  # in order
        scene_ends = {i + 1 for i, s in enumerate(stream.segments) if s.startswith("Monica Geller: Then I will")}
        asked = [q.query.split(" for ")[-1] for q in stream.questions if q.template == "friendsqa/what"]
        assert len(asked) == len(set(asked))  # a question or its paraphrase, never both
        for question in stream.questions:
            templates.add(question.template)
            assert question.at in scene_ends  # asked right after the last turn of its scene
            assert question.query not in {"Where will they go ?", "Why does Ross buy a red kayak ?"}  # dropped
            held = " ".join(stream.segments[i] for i in question.evidence).lower()
            assert question.answer.lower() in held and question.answer.lower() not in question.query.lower()
        assert "Note: (Chandler walks in holding a giant turkey.)" in stream.segments  # detokenized
    assert {"friendsqa/what", "friendsqa/speaker", "friendsqa/how"} <= templates


def test_transcripts_are_detokenized_and_long_turns_fit_the_segment_limit():
    from evomem.training.turns import default_splitter, detokenize

    assert (
        detokenize("I do n't know , we 're gon na be late ( again ) !") == "I don't know, we're gonna be late (again)!"
    )
    splitter = default_splitter()
    parts = splitter.split("Grad A", " ".join(f"Sentence {n} is about the budget." for n in range(80)))
    assert len(parts) > 2 and all(p.startswith("Grad A: ") and splitter.count(p) <= 128 for p in parts)
    assert (
        " ".join(p.removeprefix("Grad A: ") for p in parts).split()
        == " ".join(f"Sentence {n} is about the budget." for n in range(80)).split()
    )  # nothing lost, nothing repeated


def _meeting(turns: int, long_turn: int) -> dict:
    words = ("budget", "remote", "battery", "plastic", "design", "colour", "button", "screen")
    transcript = [
        {"speaker": f"Speaker {i % 3}", "content": f"I think the {words[i % 8]} {{vocalsound}} matters here ."}
        for i in range(turns)
    ]
    transcript[long_turn]["content"] = " ".join(f"The rubber casing needs care {n} ." for n in range(60))
    return {
        "meeting_transcripts": transcript,
        "topic_list": [{"topic": "Battery and screen", "relevant_text_span": [["10", "13"]]}],
        "specific_query_list": [
            {
                "query": "What about the casing?",
                "answer": "The rubber casing needs care.",
                "relevant_text_span": [[str(long_turn), str(long_turn)]],
            },
            {
                "query": "What about the plastic?",
                "answer": "Plastic matters, it is cheap.",
                "relevant_text_span": [["20", "59"]],
            },
            {"query": "What about lunch?", "answer": "Sandwiches everywhere.", "relevant_text_span": [["30", "31"]]},
        ],
        "general_query_list": [],
    }


def _write_qmsum(directory, names=("Bed004", "Bro003", "covid_1", "TS3003a")):
    for split in ("train", "val", "test"):
        (directory / split).mkdir(parents=True)
    for number, name in enumerate(names):
        split = "train" if number % 2 else "val"
        (directory / split / f"{name}.json").write_text(json.dumps(_meeting(120, 40)), encoding="utf-8")
    (directory / "test" / "Zzz999.json").write_text(json.dumps(_meeting(120, 40)), encoding="utf-8")
    return directory


def test_qmsum_windows_cut_long_turns_pick_few_evidence_turns_and_never_read_test(tmp_path):
    from evomem.training.qmsum import qmsum_streams
    from evomem.training.turns import default_splitter

    splitter = default_splitter()
    streams = qmsum_streams(_write_qmsum(tmp_path / "qm"), count=10, seed=0)
    seen = set()
    for stream in streams:
        assert stream.group in {"qmsum:Bed004", "qmsum:Bro003", "qmsum:covid_1", "qmsum:TS3003"}  # AMI: series
        assert all(splitter.count(segment) <= 128 for segment in stream.segments)
        assert not any("{vocalsound}" in segment for segment in stream.segments)
        for question in stream.questions:
            seen.add(question.query.split()[-1])
            assert question.query != "What about lunch?"  # its evidence shares no content word: dropped
            assert 1 <= len(question.evidence) <= 5 and question.at > max(question.evidence) + 1
            if question.query == "What about the casing?":  # one long turn, cut into parts
                assert len(question.evidence) >= 2 and all("casing" in stream.segments[i] for i in question.evidence)
            if question.query == "What about the plastic?":  # a long span: the turns that share two words
                assert len(question.evidence) == 5
                assert all("plastic" in stream.segments[i] for i in question.evidence)
            if question.template == "qmsum/topic":
                assert "battery" in question.query.lower() and question.answer in stream.segments[question.evidence[0]]
    assert {"casing?", "plastic?"} <= seen


def _sgd_turn(speaker: str, text: str, service: str = "", values: dict | None = None, said=()) -> dict:
    frames = []
    if speaker == "USER":
        slots = [{"slot": slot, "start": text.index(v), "exclusive_end": text.index(v) + len(v)} for slot, v in said]
        state = {"active_intent": "Reserve", "requested_slots": [], "slot_values": values or {}}
        frames.append({"service": service, "slots": slots, "state": state})
    return {"speaker": speaker, "utterance": text, "frames": frames}


def _sgd_dialogue(dialogue_id: str, service: str, city: str, new_city: str, said_old: bool = True) -> dict:
    first = f"Find me a place in {city} please." if said_old else "Find me a place near the usual spot."
    return {
        "dialogue_id": dialogue_id,
        "services": [service],
        "turns": [
            _sgd_turn("USER", first, service, {"city": [city]}, [("city", city)] if said_old else []),
            _sgd_turn("SYSTEM", "Sure, how many people?"),
            _sgd_turn("USER", "Just two of us.", service, {"city": [city], "seats": ["2"]}, []),
            _sgd_turn("SYSTEM", "Shall I book it?"),
            _sgd_turn(
                "USER",
                f"Make it {new_city} instead.",
                service,
                {"city": [new_city], "seats": ["2"]},
                [("city", new_city)],
            ),
            _sgd_turn("SYSTEM", "Done."),
        ],
    }


SGD_CITIES = ("Oakland", "Fresno", "Castro Valley", "San Jose", "Sonoma", "Napa", "Davis", "Eureka")


def _write_sgd(directory, domains=("Alarm", "Banks", "Buses", "Events", "Flights", "Homes", "Hotels", "Media")):
    folder = directory / "dev"
    folder.mkdir(parents=True)
    schema = [
        {
            "service_name": f"{d}_1",
            "description": d,
            "slots": [
                {"name": "city", "description": f"The city of the {d.lower()} booking"},
                {"name": "seats", "description": "Number of seats"},
            ],
        }
        for d in domains
    ]
    (folder / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    dialogues = [
        _sgd_dialogue(f"1_{n:05d}", f"{d}_1", SGD_CITIES[n % 8], SGD_CITIES[(n + 3) % 8], said_old=n != 1)
        for n, d in enumerate(domains)
    ]
    (folder / "dialogues_001.json").write_text(json.dumps(dialogues), encoding="utf-8")
    return directory


def test_sgd_updates_are_evidence_the_old_value_a_hard_negative_asked_dialogues_later(tmp_path):
    from evomem.training.sgd import sgd_streams

    streams = sgd_streams(_write_sgd(tmp_path / "sgd"), count=6, seed=0)
    assert sum(len(stream.questions) for stream in streams) >= 6
    for stream in streams:
        families = stream.group.split(";")
        assert len(families) == len(set(families)) >= 3  # a chain of dialogues, one per domain
        starts = [i for i, s in enumerate(stream.segments) if s.startswith("User: Find me")]
        for question in stream.questions:
            assert question.template == "sgd/slot_update" and "booking" in question.query
            (evidence,), (negative,) = question.evidence, question.hard_negatives
            assert f"{question.answer} instead" in stream.segments[evidence]
            assert (
                "Find me a place in" in stream.segments[negative] and question.answer not in stream.segments[negative]
            )
            assert question.at > evidence + 1 and question.at in {s for s in starts} | {len(stream.segments)}
            assert "banks" not in question.query  # the Banks dialogue never said its old value: dropped


def _build_real(tmp_path, output, split, seed=0, count=40, late_share=0.0):
    from evomem.training.data import RealSource

    real = [
        RealSource("friendsqa", tmp_path / "fq", 0.25),
        RealSource("qmsum", tmp_path / "qm", 0.25),
        RealSource("sgd", tmp_path / "sgd", 0.25),
    ]
    return build(tmp_path / output, count, seed, None, None, 0, 0, False, split=split, real=real, late_share=late_share)


def _groups(path) -> set[str]:
    from evomem.training.stats import read_streams

    return {group for stream in read_streams(path) for group in stream.group.split(";") if group}


def test_train_and_dev_never_share_a_group_and_builds_are_deterministic(tmp_path):
    from evomem.datasets.split import DEV_SHARE, side
    from evomem.training.stats import read_streams, source_stats

    _write_friendsqa(tmp_path / "fq")
    _write_qmsum(tmp_path / "qm")
    _write_sgd(tmp_path / "sgd")
    written = _build_real(tmp_path, "train.jsonl", "train")
    assert written.records == {"friendsqa": 10, "qmsum": 10, "sgd": 10, "synthetic": 10}
    assert written.questions["sgd/slot_update"] >= 10
    rows = {row.source: row for row in source_stats(read_streams(tmp_path / "train.jsonl"))}
    assert {s: row.records for s, row in rows.items()} == written.records
    assert rows["sgd"].questions == written.questions["sgd/slot_update"] and rows["sgd"].segments_min >= 12
    _build_real(tmp_path, "dev.jsonl", "dev")
    train, dev = _groups(tmp_path / "train.jsonl"), _groups(tmp_path / "dev.jsonl")
    assert {"friendsqa:s01_e21", "qmsum:Bed004", "sgd:Alarm"} <= train
    assert {"friendsqa:s03_e22", "qmsum:Bro003", "sgd:Banks"} <= dev  # these hash to dev
    assert not train & dev
    _build_real(tmp_path, "again.jsonl", "train")
    assert (tmp_path / "again.jsonl").read_text() == (tmp_path / "train.jsonl").read_text()
    _build_real(tmp_path, "other.jsonl", "train", seed=1)
    assert (tmp_path / "other.jsonl").read_text() != (tmp_path / "train.jsonl").read_text()
    share = sum(side(f"group-{n}") == "dev" for n in range(4000)) / 4000
    assert abs(share - DEV_SHARE) < 0.02


def _by_query(stream):
    return sorted(stream.questions, key=lambda question: (question.query, question.evidence))


def test_late_questions_move_to_their_streams_end_with_their_evidence_and_leave_sgd_alone(tmp_path):
    from evomem.training.stats import read_streams

    _write_friendsqa(tmp_path / "fq")
    _write_qmsum(tmp_path / "qm")
    _write_sgd(tmp_path / "sgd")
    _build_real(tmp_path, "near.jsonl", "train")
    _build_real(tmp_path, "late.jsonl", "train", late_share=1.0)
    near, late = read_streams(tmp_path / "near.jsonl"), read_streams(tmp_path / "late.jsonl")
    assert [s.segments for s in near] == [s.segments for s in late]  # the same streams, only the points move
    moved = 0
    for before, after in zip(near, late, strict=True):
        assert [q.at for q in after.questions] == sorted(q.at for q in after.questions)
        for old, new in zip(_by_query(before), _by_query(after), strict=True):
            if before.source in ("friendsqa", "qmsum") and old.at < len(before.segments):
                assert new == dataclasses.replace(old, at=len(before.segments), template=f"{old.template}/late")
                moved += 1
            else:
                assert new == old  # SGD and the synthetic samples keep their points
    assert moved >= 10
    with pytest.raises(ValueError, match="late_share must lie in"):
        _build_real(tmp_path, "bad.jsonl", "train", late_share=1.5)


def test_msc_long_streams_ask_several_questions_along_several_episodes(tmp_path):
    from evomem.training.msc import long_streams, msc_group

    dialogues = load_msc_dialogues(_write_msc(tmp_path / "msc", episodes=12))
    for stream in long_streams(dialogues, count=4, seed=0):
        groups = stream.group.split(";")
        assert len(groups) >= 5 and set(groups) <= {msc_group(d) for d in dialogues}
        assert len(stream.questions) >= 2 and len({q.at for q in stream.questions}) >= 2
        for question in stream.questions:
            before, after = question.evidence
            assert after == before + 1 and question.at > after and question.query not in stream.segments


def test_sources_name_missing_folders_and_wrong_shapes(tmp_path):
    from click.testing import CliRunner

    from evomem.cli import main
    from evomem.training.friendsqa import friendsqa_streams
    from evomem.training.qmsum import qmsum_streams
    from evomem.training.sgd import sgd_streams

    with pytest.raises(FileNotFoundError, match="FriendsQA folder .*missing does not exist"):
        friendsqa_streams(tmp_path / "missing", 1, 0)
    with pytest.raises(FileNotFoundError, match="no FriendsQA file"):
        friendsqa_streams(tmp_path, 1, 0)
    with pytest.raises(FileNotFoundError, match="no QMSum meeting"):
        qmsum_streams(tmp_path, 1, 0)
    with pytest.raises(FileNotFoundError, match="no SGD split folder"):
        sgd_streams(tmp_path, 1, 0)
    (tmp_path / "fq").mkdir()
    (tmp_path / "fq" / "friendsqa_dev.json").write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="not in the FriendsQA shape"):
        friendsqa_streams(tmp_path / "fq", 1, 0)
    (tmp_path / "qm" / "train").mkdir(parents=True)
    (tmp_path / "qm" / "train" / "Bed004.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="Bed004.json: not JSON"):
        qmsum_streams(tmp_path / "qm", 1, 0)
    result = CliRunner().invoke(main, ["data", "build", "--output", str(tmp_path / "o.jsonl"), "--sgd-share", "0.2"])
    assert result.exit_code != 0 and "--sgd-share needs --sgd-dir" in result.output


def _shared_data():
    from pathlib import Path

    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    pytest.skip("no shared/data beside the repository")


@pytest.mark.parametrize("source", ["friendsqa", "qmsum", "sgd", "msc", "msc_facts"])
def test_the_real_copies_build_records_that_parse_and_fit_the_segment_limit(source):
    from evomem.datasets.records import parse_record
    from evomem.training.data import STREAM_SOURCES
    from evomem.training.msc import load_msc_episodes, long_streams
    from evomem.training.msc_facts import fact_streams
    from evomem.training.turns import default_splitter

    data = _shared_data()
    if source == "msc":
        streams = long_streams(load_msc_dialogues(data / "msc"), 2, 0)
    elif source == "msc_facts":
        streams = fact_streams(load_msc_episodes(data / "msc"), 2, 0)
    else:
        streams = STREAM_SOURCES[source](data / source, 3, 0, "train")
    splitter = default_splitter()
    for stream in streams:
        again = parse_record(json.loads(json.dumps(stream.to_json())))
        assert again.source == source.removesuffix("_facts") and again.group and again.questions
        assert all(splitter.count(segment) <= 128 for segment in again.segments)
