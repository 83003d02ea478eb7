"""A LangChain chain with evomem long-term memory: a multi-session chat is remembered session by session
(EvoChatMessageHistory), and questions about it are answered by a local LLM from the turns EvoMemoryRetriever
recalls, put back in time order. The assistant's own questions and answers join the same history, and the retriever
leaves out the latest turns, which the prompt shows as chat history.

    python examples/langchain_chat_memory.py            # LoCoMo dev (when found) or evomem's sample
    python examples/langchain_chat_memory.py --short    # smoke test: the short sample, 2 questions
    python examples/langchain_chat_memory.py --openai-base-url http://localhost:8000/v1 --openai-model NAME
"""

from __future__ import annotations

from operator import itemgetter

from _common import langchain_chat_model, load_conversation, parser, sessions, when, work_dir
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_evomem import EvoChatMessageHistory, EvoMemoryRetriever

from evomem import EvoMemory

PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You answer questions about a conversation using only the remembered turns below (oldest first). "
            "Answer in one short sentence.\n\nRemembered turns:\n{memory}",
        ),
        MessagesPlaceholder("history"),
        ("human", "{question}"),
    ]
)


def in_time_order(docs: list[Document]) -> str:
    docs = sorted(docs, key=lambda doc: doc.metadata["position"])
    return "\n".join(f"[{when(doc.metadata.get('timestamp'))}] {doc.page_content}" for doc in docs)


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    conversation, questions = load_conversation(args)
    memory = EvoMemory(work_dir(args))

    # 1. Long-term memory: the chat, session by session, into one evolving stream.
    chat = EvoChatMessageHistory(memory, session_id="chat")
    for session in sessions(conversation):
        chat.add_messages(
            [
                HumanMessage(t.content, name=t.speaker, id=t.dia_id, additional_kwargs={"timestamp": t.timestamp})
                for t in session
            ]
        )
    print(f"remembered {len(conversation.turns)} turns in {len(sessions(conversation))} sessions")

    # 2. A chain: recall -> prompt -> LLM. The assistant's own dialogue joins the same namespace. The prompt shows
    #    the latest turns as chat history, and the retriever leaves those out (the question being asked among
    #    them, once it is kept), inside the search: it recalls k older turns, never a copy of a question.
    window = 4
    retriever = EvoMemoryRetriever(memory=memory, namespace="chat", k=args.k, exclude_latest=window)
    recall = itemgetter("question") | retriever | RunnableLambda(in_time_order)
    chain = RunnablePassthrough.assign(memory=recall) | PROMPT | langchain_chat_model(args) | StrOutputParser()
    for question in questions:
        print(f"\nQ: {question.question}\n{recall.invoke({'question': question.question})}")
        answer = chain.invoke({"question": question.question, "history": chat.messages[-window:]})
        chat.add_messages([HumanMessage(question.question), AIMessage(answer)])
        print(f"A: {answer}\ngold: {question.answer}")
    print(f"\nthe chat and the assistant's dialogue: {len(chat.messages)} messages kept in evomem")


if __name__ == "__main__":
    main()
