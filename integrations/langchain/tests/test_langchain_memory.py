"""EvoMemoryRetriever, EvoChatMessageHistory and EvoEmbeddings with real LangChain objects and a real EvoMemory."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_evomem import EvoChatMessageHistory, EvoEmbeddings, EvoMemoryRetriever

from evomem import EvoMemory

CHAT = [
    ("Maya", "Hi Leo! I finally adopted a dog last weekend, a three-year-old beagle."),
    ("Leo", "That's wonderful news! What's the dog's name?"),
    ("Maya", "Her name is Pepper. She came from the shelter on Hill Street."),
    ("Leo", "I started a new job at a bakery downtown, by the way."),
    ("Maya", "I ran a half marathon in Lisbon with my sister Ana."),
    ("Leo", "Impressive! Who looked after Pepper during the race?"),
    ("Maya", "My parents did. She loved their garden."),
    ("Leo", "I quit the bakery; I work at a cafe by the harbour now."),
]

# ----- retriever ---------------------------------------------------------------------------------------------


def test_session_ids_are_namespaces_checked_on_construction(memory):
    for bad in ["", "a\x00b", "x" * 257]:
        with pytest.raises(ValueError, match="invalid namespace"):
            EvoMemoryRetriever(memory=memory, namespace=bad)
        with pytest.raises(ValueError, match="invalid namespace"):
            EvoChatMessageHistory(memory, session_id=bad)
    history = EvoChatMessageHistory(memory, session_id="E\u0301milie")
    history.add_user_message("I adopted a beagle called Pepper.")
    retriever = EvoMemoryRetriever(memory=memory, namespace="Émilie", k=1)  # the same namespace under NFC
    assert retriever.namespace == history.session_id == "Émilie"
    assert retriever.invoke("dog")[0].page_content == "user: I adopted a beagle called Pepper."
    for session in ["user:42", "thread/1"]:
        EvoChatMessageHistory(memory, session_id=session).add_ai_message(f"hello {session}")
        assert [m.content for m in EvoChatMessageHistory(memory, session_id=session).messages] == [f"hello {session}"]


def test_retriever_finds_the_turn_and_carries_metadata(chat_memory):
    retriever = EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=3)
    docs = retriever.invoke("Where did Maya run her half marathon?")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.id == "t6" and top.page_content == "Maya: I ran a half marathon in Lisbon with my sister Ana."
    assert {"score", "position", "timestamp", "speaker", "role"} <= set(top.metadata)
    assert top.metadata["speaker"] == "Maya" and top.metadata["position"] == 6
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)


def test_retriever_thresholds_the_calibrated_score_as_score_threshold_or_min_score(chat_memory):
    query = "Where did Maya run her half marathon?"
    docs = EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=5).invoke(query)
    cut = docs[2].metadata["score"]
    expected = [d.id for d in docs if d.metadata["score"] >= cut]
    for retriever in (
        EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=5, score_threshold=cut),
        EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=5, min_score=cut),
    ):
        assert [d.id for d in retriever.invoke(query)] == expected
    unfiltered = EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=5)
    assert [d.id for d in unfiltered.invoke(query, score_threshold=cut)] == expected
    assert unfiltered.invoke(query, min_score=1.0) == [] or docs[0].metadata["score"] == 1.0
    with pytest.raises(ValueError, match="min_score"):
        EvoMemoryRetriever(memory=chat_memory, namespace="maya", score_threshold=2)
    with pytest.raises(TypeError, match="not both"):
        unfiltered.invoke(query, score_threshold=0.1, min_score=0.2)


def test_retriever_filters_per_call_and_in_constructor(chat_memory):
    leo_only = EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=10, where={"name": "Leo"})
    docs = leo_only.invoke("work")
    assert len(docs) == 5 and {d.metadata["speaker"] for d in docs} == {"Leo"}
    # per-call arguments override the constructor's
    april = leo_only.invoke("work", k=2, where={"name": "Maya"}, time_range=("2025-04-01", None))
    assert len(april) == 2
    assert all(d.metadata["speaker"] == "Maya" and d.metadata["timestamp"] >= 1743465600 for d in april)


def test_retriever_batch_and_ainvoke(chat_memory):
    retriever = EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=2)
    batched = retriever.batch(["Where does Leo work now?", "Who went to Lisbon with Maya?"])
    assert [len(docs) for docs in batched] == [2, 2]
    assert batched[0] == retriever.invoke("Where does Leo work now?")
    docs = asyncio.run(retriever.ainvoke("Who went to Lisbon with Maya?", k=1))
    assert len(docs) == 1 and docs[0].id == batched[1][0].id


def test_retriever_search_mode_in_constructor_and_per_call(chat_memory):
    lexical = EvoMemoryRetriever(memory=chat_memory, namespace="maya", k=10, mode="lexical")
    docs = lexical.invoke("Lisbon marathon")
    assert docs and docs[0].id == "t6"
    assert all({"lisbon", "marathon"} & set(d.page_content.lower().replace(".", " ").split()) for d in docs)
    evolvable = lexical.invoke("Lisbon marathon", mode="evolvable", k=10)
    assert len(evolvable) == 10  # the evolvable ranking returns every turn, not only those sharing a word
    with pytest.raises(ValueError, match="unknown search mode"):
        EvoMemoryRetriever(memory=chat_memory, namespace="maya", mode="dense")
    with pytest.raises(ValueError, match="lexical_weight"):
        EvoMemoryRetriever(memory=chat_memory, namespace="maya", lexical_weight=2)


def test_retriever_on_empty_namespace_returns_nothing(chat_memory):
    assert EvoMemoryRetriever(memory=chat_memory, namespace="nobody").invoke("anything") == []


def test_chat_history_and_retriever_on_one_namespace_never_recall_the_question(memory):
    """The README pattern end to end: a chain whose history and retriever share one namespace, asked twice."""
    window = 4  # the latest messages the prompt shows as chat history
    history = EvoChatMessageHistory(memory, session_id="maya")
    history.add_messages([HumanMessage(text, name=name) for name, text in CHAT])
    retriever = EvoMemoryRetriever(memory=memory, namespace="maya", k=4, exclude_latest=window)
    recalled: list[list[str]] = []

    def respond(inputs: dict) -> AIMessage:  # a chat model's stand-in: recalled turns + the latest history
        docs = retriever.invoke(inputs["question"])
        recalled.append([doc.page_content for doc in docs])
        assert len(inputs["history"][-window:]) == window
        return AIMessage(f"From what I remember: {docs[0].page_content}")

    chain = RunnableWithMessageHistory(
        RunnableLambda(respond),
        lambda session_id: EvoChatMessageHistory(memory, session_id=session_id),
        input_messages_key="question",
        history_messages_key="history",
    )
    question = "What is the name of Maya's dog?"
    config = {"configurable": {"session_id": "maya"}}
    for _ in range(2):
        chain.invoke({"question": question}, config=config)
    assert [len(docs) for docs in recalled] == [4, 4]  # k hits, though the latest turns are left out
    assert not any(question in text or "From what I remember" in text for docs in recalled for text in docs)
    assert any("Pepper" in text for text in recalled[1])
    # without the exclusion the second question recalls the first (the failure this guards against)
    assert any(
        question in doc.page_content for doc in EvoMemoryRetriever(memory=memory, namespace="maya").invoke(question)
    )


# ----- chat history ------------------------------------------------------------------------------------------


def test_history_round_trips_messages_in_order(memory):
    history = EvoChatMessageHistory(memory, session_id="s1")
    assert history.messages == []
    first = [
        SystemMessage("You are a helpful assistant."),
        HumanMessage("I adopted a beagle called Pepper.", id="h1", additional_kwargs={"timestamp": 1741252500}),
        AIMessage("", id="a1", tool_calls=[{"name": "remember", "args": {"pet": "Pepper"}, "id": "c1"}]),
        ToolMessage("stored", tool_call_id="c1"),
    ]
    history.add_messages(first)
    long_text = " ".join(f"Sentence {i} is about the garden and the weather." for i in range(40))
    history.add_messages([AIMessage("What a lovely name!", name="bot"), HumanMessage(long_text)])
    messages = history.messages
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage, AIMessage, ToolMessage, AIMessage, HumanMessage]
    assert messages[1].content == "I adopted a beagle called Pepper." and messages[1].id == "h1"
    assert messages[2].tool_calls[0]["args"] == {"pet": "Pepper"}
    assert messages[4].name == "bot"
    assert messages[5].content == long_text  # stored in several segments, returned whole
    assert memory.stats("s1")["segments"] > len(messages)
    # the history is searchable, with the timestamp it was given
    docs = EvoMemoryRetriever(memory=memory, namespace="s1", k=1).invoke("Who adopted a beagle?")
    assert docs[0].id == "h1" and docs[0].metadata["timestamp"] == 1741252500
    assert "lc_message" not in docs[0].metadata
    history.clear()
    assert history.messages == [] and "s1" not in memory.namespaces()


def test_history_async_methods_use_the_memory_async_methods(memory, monkeypatch):
    history = EvoChatMessageHistory(memory, session_id="s1")
    used = []
    for name in ("aadd_messages", "aget", "adelete_namespace"):
        method = getattr(memory, name)
        monkeypatch.setattr(memory, name, lambda *a, _m=method, _n=name, **k: used.append(_n) or _m(*a, **k))

    async def main():
        await history.aadd_messages([HumanMessage("I adopted a beagle called Pepper.", id="h1"), AIMessage("Lovely!")])
        read = await history.aget_messages()
        await history.aclear()
        return read, await history.aget_messages()

    read, cleared = asyncio.run(main())
    assert [(type(m), m.content) for m in read] == [
        (HumanMessage, "I adopted a beagle called Pepper."),
        (AIMessage, "Lovely!"),
    ]
    assert cleared == [] and used == ["aadd_messages", "aget", "adelete_namespace", "aget"]


def test_history_reads_messages_written_without_langchain(memory):
    memory.add_messages(
        [
            {"role": "user", "name": "Maya", "content": "Pepper is a beagle.", "id": "m1"},
            {"role": "assistant", "content": "Lovely!", "id": "m2"},
            {"role": "critic", "content": "Too short.", "id": "m3"},
        ],
        namespace="plain",
    )
    messages = EvoChatMessageHistory(memory, "plain").messages
    assert [(type(m).__name__, m.content) for m in messages] == [
        ("HumanMessage", "Pepper is a beagle."),
        ("AIMessage", "Lovely!"),
        ("ChatMessage", "Too short."),
    ]
    assert messages[0].id == "m1" and messages[2].role == "critic"


def test_history_reads_records_whose_lc_message_is_not_a_message(memory):
    memory.add_messages(
        [
            {"role": "user", "content": "Pepper is a beagle.", "id": "m1", "metadata": {"lc_message": "not json"}},
            {"role": "assistant", "content": "Lovely!", "id": "m2", "metadata": {"lc_message": '{"type": "x"}'}},
            {"role": "user", "content": "She is four.", "id": "m3", "metadata": {"lc_message": "[1]"}},
        ],
        namespace="other-client",
    )
    with pytest.warns(UserWarning) as caught:
        messages = EvoChatMessageHistory(memory, "other-client").messages
    assert [str(w.message).split(" is not")[0] for w in caught] == [
        f"message '{i}' of session 'other-client' has lc_message metadata that" for i in ("m1", "m2", "m3")
    ]
    assert [(type(m).__name__, m.content, m.id) for m in messages] == [
        ("HumanMessage", "Pepper is a beagle.", "m1"),
        ("AIMessage", "Lovely!", "m2"),
        ("HumanMessage", "She is four.", "m3"),
    ]


def test_history_with_runnable_with_message_history(memory):
    def reply(messages):
        last = messages[-1].content
        return AIMessage(f"You said: {last} ({len(messages)} messages seen)")

    chain = RunnableWithMessageHistory(
        RunnableLambda(reply), lambda session_id: EvoChatMessageHistory(memory, session_id=session_id)
    )
    config = {"configurable": {"session_id": "alice"}}
    chain.invoke([HumanMessage("My sister is called Ana.")], config=config)
    answer = chain.invoke([HumanMessage("Who is my sister?")], config=config)
    assert "3 messages seen" in answer.content
    stored = EvoChatMessageHistory(memory, "alice").messages
    assert [m.type for m in stored] == ["human", "ai", "human", "ai"]
    assert EvoChatMessageHistory(memory, "bob").messages == []


# ----- embeddings --------------------------------------------------------------------------------------------


def _cos(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embed_documents_continue_one_stream(evo_encoder):
    texts = ["Maya adopted a beagle.", "Her name is Pepper.", "Leo works at a bakery."]
    at_once = EvoEmbeddings(model=evo_encoder, segment_batching=False).embed_documents(texts)
    assert len(at_once) == 3 and all(math.isclose(np.linalg.norm(v), 1.0, rel_tol=1e-4) for v in at_once)
    # batch after batch, the calls read one stream: the same vectors as one call
    embeddings = EvoEmbeddings(model=evo_encoder, segment_batching=False)
    in_two = embeddings.embed_documents(texts[:2]) + embeddings.embed_documents(texts[2:])
    assert np.allclose(in_two, at_once, atol=1e-5) and embeddings.step == 3
    # what came before changes a text's vector
    other = EvoEmbeddings(model=evo_encoder).embed_documents(["The weather in Lisbon was hot.", "Her name is Pepper."])
    assert _cos(other[1], at_once[1]) < 0.99999


def test_embed_query_reads_the_stream(evo_encoder):
    embeddings = EvoEmbeddings(model=evo_encoder)
    empty = embeddings.embed_query("What is the dog's name?")
    vectors = embeddings.embed_documents(["Maya adopted a beagle.", "Her name is Pepper.", "Leo bakes bread."])
    step = embeddings.step
    with_memory = embeddings.embed_query("What is the dog's name?")
    assert embeddings.step == step == 3  # queries do not write memory
    assert _cos(empty, with_memory) < 0.99999
    assert embeddings.embed_query("What is the dog's name?") == with_memory
    # the memory moves the query towards the turn that answers it ("Her" is the beagle) and from the distractor
    beagle, pepper, _ = np.array(vectors) @ np.array(with_memory)
    beagle_empty, pepper_empty, _ = np.array(vectors) @ np.array(empty)
    assert pepper - beagle > pepper_empty - beagle_empty + 0.02
    embeddings.reset()
    assert np.allclose(embeddings.embed_query("What is the dog's name?"), empty, atol=1e-6)


def test_long_texts_are_read_as_several_segments(evo_encoder):
    embeddings = EvoEmbeddings(model=evo_encoder)
    long_text = " ".join(f"Paragraph sentence number {i} talks about sourdough bread." for i in range(60))
    vectors = embeddings.embed_documents(["short", long_text, ""])
    assert len(vectors) == 3 and embeddings.step > 3
    assert all(math.isclose(np.linalg.norm(v), 1.0, rel_tol=1e-4) for v in vectors)


def test_embed_documents_refuses_a_lone_string(evo_encoder):
    embeddings = EvoEmbeddings(model=evo_encoder)
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        embeddings.embed_documents("abc")
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        asyncio.run(embeddings.aembed_documents("abc"))


def test_embeddings_share_an_evomemory_encoder(chat_memory):
    embeddings = EvoEmbeddings(memory=chat_memory)
    assert embeddings.encoder is chat_memory.encoder and embeddings.dim == 384
    fresh = EvoEmbeddings(model=chat_memory.encoder)
    assert asyncio.run(embeddings.aembed_documents(["a", "b"])) == fresh.embed_documents(["a", "b"])


def test_embeddings_reject_a_missing_model_directory(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError)):
        EvoEmbeddings(model=tmp_path / "missing")


def test_memory_fixture_is_isolated(memory):
    assert isinstance(memory, EvoMemory) and memory.namespaces() == []
