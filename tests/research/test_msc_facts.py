"""MSC persona facts: the third-person rewrite, the evidence turn, and streams built from episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evomem.training.data import build, load_records
from evomem.training.msc import ChatTurn, MscEpisode, load_msc_episodes, msc_group
from evomem.training.msc_facts import evidence_turn, fact_sentences, fact_streams, third_person

HOBBIES = ("pottery", "sailing", "chess", "baking", "cycling", "gardening", "fencing", "knitting", "rowing", "judo")


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("I like bird watching with my cats.", "Ruth likes bird watching with their cats."),
        ("My dad was a preacher.", "Ruth's dad was a preacher."),
        ("I'm married.", "Ruth is married."),
        ("I don't really enjoy other sports.", "Ruth doesn't really enjoy other sports."),
        ("I also watch horror films.", "Ruth also watches horror films."),
        ("I try to study every day.", "Ruth tries to study every day."),
        ("When I was younger I went to concerts.", "When Ruth was younger they went to concerts."),
        ("I am tired but I am happy.", "Ruth is tired but they are happy."),
        ("21 pilots is my favorite band.", "21 pilots is Ruth's favorite band."),
        ("I have had a hip replacement.", "Ruth has had a hip replacement."),
        ("We do not have any pets.", None),  # not about the speaker alone
        ("I like your dog.", None),
        ("Dogs are great.", None),
    ],
)
def test_a_persona_sentence_is_rewritten_about_the_named_speaker(sentence, expected):
    assert third_person(sentence, "Ruth") == expected


def test_the_evidence_is_the_one_turn_of_that_speaker_that_states_the_fact():
    turns = [
        ChatTurn(0, 0, "Ruth", "Do you have kids? My sister has three."),
        ChatTurn(0, 0, "Omar", "My son is in junior high school now."),
        ChatTurn(0, 1, "Ruth", "That is a tough age for a boy."),
        ChatTurn(0, 1, "Omar", "He started junior high in the fall."),
    ]
    assert evidence_turn("My son is in junior high.", turns, "Omar") == 1
    assert evidence_turn("My son is in junior high.", turns, "Ruth") is None  # she never said it: no half match
    assert evidence_turn("I like junior high.", turns, "Omar") is None  # two of Omar's turns match as well
    assert evidence_turn("I like cats.", turns, "Omar") is None  # one content word is too little to find a turn by
    assert fact_sentences(["I sail. I row.", "I sail."]) == ["I sail.", "I row."]


def _write_msc(directory: Path, episodes: int) -> Path:
    """Episodes whose speakers each say two hobbies in the first session, summarised in their personas."""
    (directory / "session_2").mkdir(parents=True)
    with open(directory / "session_2" / "valid.txt", "w", encoding="utf-8") as handle:
        for number in range(episodes):
            hobbies = [HOBBIES[(number + i) % len(HOBBIES)] for i in range(4)]
            first = [
                {"text": f"Hello there, this is episode {number} and I spend weekends on {hobbies[0]} lessons."},
                {"text": f"Nice! My favourite weekend pastime is {hobbies[1]} with friends."},
                {"text": f"I also practise {hobbies[2]} every Tuesday evening at the club."},
                {"text": f"Cool, I started {hobbies[3]} classes last month in town."},
            ]
            later = [{"id": f"Speaker {1 + i % 2}", "text": f"Episode {number} chat, line {i}."} for i in range(8)]
            personas = [
                [f"I take {hobbies[0]} lessons on weekends.", f"I practise {hobbies[2]} on Tuesday evenings."],
                [f"My favourite pastime is {hobbies[1]} with friends.", f"I started {hobbies[3]} classes last month."],
            ]
            record = {"dialog": later, "previous_dialogs": [{"dialog": first}], "personas": personas}
            handle.write(json.dumps(record) + "\n")
    return directory


def test_fact_streams_ask_for_the_named_speakers_turn_after_it_across_episodes(tmp_path):
    episodes = load_msc_episodes(_write_msc(tmp_path / "msc", episodes=40))
    assert all(isinstance(e, MscEpisode) and len(e.personas[0]) == 2 for e in episodes)
    streams = fact_streams(episodes, count=3, seed=0)
    for stream in streams:
        groups = stream.group.split(";")
        assert len(groups) >= 5 and set(groups) <= {msc_group(e.dialogue) for e in episodes}
        speakers = [segment.split(":")[0] for segment in stream.segments]
        assert len(set(speakers)) >= 2 * len(groups) - 1  # a name of their own (the last episode may be cut)
        assert len(stream.questions) >= 3
        assert [q.at for q in stream.questions] == sorted(q.at for q in stream.questions)
        for question in stream.questions:
            assert question.template == "msc/persona_fact" and max(question.evidence) < question.at
            (evidence,) = question.evidence
            name = question.query.split()[0].removesuffix("'s")
            assert speakers[evidence] == name  # the named speaker said it
            hobby = next(h for h in HOBBIES if h in question.query)
            assert hobby in stream.segments[evidence] and question.answer == stream.segments[evidence]


def test_build_mixes_persona_fact_streams_by_share(tmp_path):
    msc = _write_msc(tmp_path / "msc", episodes=40)
    written = build(tmp_path / "mix.jsonl", 8, 0, msc, msc_share=0, msc_facts_share=0.5, show_progress=False)
    assert written.records == {"msc": 4, "synthetic": 4}
    assert written.questions["msc/persona_fact"] >= 12
    streams = load_records(tmp_path / "mix.jsonl")
    assert sum(s.source == "msc" for s in streams) == 4
    with pytest.raises(ValueError, match="msc_facts_share must lie in"):
        build(tmp_path / "bad.jsonl", 8, 0, msc, msc_facts_share=1.5, show_progress=False)
    with pytest.raises(ValueError, match="no MSC episodes"):
        build(tmp_path / "none.jsonl", 8, 0, None, msc_share=0, msc_facts_share=0.5, show_progress=False)
