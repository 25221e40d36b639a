"""vLLM's native ``/generate`` endpoint (its OpenAI-compatible routes go to ``openai``)."""

from __future__ import annotations

from pipeline.enrich.providers.base import LLMCall, error_message, model_parameters
from pipeline.kong.bodies import Body
from pipeline.kong.record import KongRecord


class VLLMGenerate:
    name = "vllm"

    def detect(self, record: KongRecord, path: str, request: Body) -> str | None:
        return "generate" if path.endswith("/generate") else None

    def parse(self, operation: str, request: Body, response: Body) -> LLMCall:
        body = request.json_object() or {}
        call = LLMCall(
            provider=self.name,
            operation=operation,
            request_model=body.get("model") if isinstance(body.get("model"), str) else None,
            model_parameters=model_parameters(body),
            input=body.get("prompt"),
            stream=bool(body.get("stream")),
        )
        document = response.json_object()
        if document is not None:
            call.error = error_message(document)
            text = document.get("text")
            call.output = text[0] if isinstance(text, list) and len(text) == 1 else text
        return call
