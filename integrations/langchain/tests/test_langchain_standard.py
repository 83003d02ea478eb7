"""langchain-tests' standard suites, run against the real default model and a real EvoMemory."""

from __future__ import annotations

import pytest
from langchain_evomem import EvoEmbeddings, EvoMemoryRetriever
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from evomem.model.backbone import resolve_backbone_dir


class _SharedEncoder:
    """Standard suites build the model from class properties: hand them the session's encoder."""

    @pytest.fixture(autouse=True, scope="class")
    def _bind_encoder(self, request, evo_encoder):
        request.cls.encoder = evo_encoder

    @property
    def embeddings_class(self) -> type[EvoEmbeddings]:
        return EvoEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": self.encoder}


class TestEvoEmbeddingsUnit(_SharedEncoder, EmbeddingsUnitTests):
    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        # $EVOMEM_MODEL names the model when none is given (here: the embedded backbone's directory).
        backbone = str(resolve_backbone_dir("embedded:all-MiniLM-L6-v2"))
        return {"EVOMEM_MODEL": backbone}, {}, {"model": backbone}


class TestEvoEmbeddingsIntegration(_SharedEncoder, EmbeddingsIntegrationTests):
    pass


class TestEvoMemoryRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True, scope="class")
    def _bind_memory(self, request, chat_memory):
        request.cls.memory = chat_memory

    @property
    def retriever_constructor(self) -> type[EvoMemoryRetriever]:
        return EvoMemoryRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"memory": self.memory, "namespace": "maya"}

    @property
    def retriever_query_example(self) -> str:
        return "What is the name of Maya's dog?"
