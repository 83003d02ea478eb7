"""Naive RAG over a chat history with evomem: ingest a long conversation session by session, retrieve the top-k
turns for a question, put them back in time order, answer with a local LLM; print the turns and the answer.

    python examples/naive_rag.py            # LoCoMo dev (when found) or evomem's sample conversation
    python examples/naive_rag.py --short    # smoke test: the short sample, 2 questions
    python examples/naive_rag.py --openai-base-url http://localhost:8000/v1 --openai-model NAME
"""

from __future__ import annotations

import time

from _common import chat_function, load_conversation, parser, sessions, when, work_dir

from evomem import EvoMemory

SYSTEM = (
    "You answer questions about a conversation using only the remembered turns below (oldest first). "
    "Answer in one short sentence."
)


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    conversation, questions = load_conversation(args)
    memory = EvoMemory(work_dir(args))
    namespace = conversation.sample_id.replace(" ", "-")

    started = time.perf_counter()
    for session in sessions(conversation):  # each session appends to the same evolving stream
        memory.add_messages([turn.as_message() for turn in session], namespace=namespace)
    print(f"ingested {len(conversation.turns)} turns in {time.perf_counter() - started:.1f} s")

    ask = chat_function(args)
    for question in questions:
        hits = memory.search(question.question, namespace=namespace, k=args.k)
        turns = sorted(hits, key=lambda hit: hit.metadata["position"])  # back in time order
        context = "\n".join(f"[{when(hit.metadata.get('timestamp'))}] {hit.text}" for hit in turns)
        answer = ask(
            [
                {"role": "system", "content": f"{SYSTEM}\n\nRemembered turns:\n{context}"},
                {"role": "user", "content": question.question},
            ]
        )
        print(f"\nQ: {question.question}")
        for hit in turns:
            print(f"  {hit.id:>7}  {hit.score:.3f}  {hit.text[:100]}")
        print(f"A: {answer}")
        print(f"gold: {question.answer}")


if __name__ == "__main__":
    main()
