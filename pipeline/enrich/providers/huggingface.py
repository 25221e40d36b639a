"""Hugging Face text generation: the Inference API and Text Generation Inference (TGI).

``POST …/models/<org>/<model>`` (or a TGI endpoint's ``/generate``-less root) with
``{"inputs": "...", "parameters": {...}}`` answers ``[{"generated_text": "..."}]`` (Kong's
llama2 "raw" format wraps it in ``{"data": [...]}``); TGI streams ``{"token": {"text": …}}``
events ending with the whole ``generated_text`` and its ``details``. Hugging Face's chat
routes are OpenAI-compatible and handled there.
"""

from __future__ import annotations

from typing import Any

from pipeline.enrich.providers.base import (
    Exchange,
    LLMCall,
    error_message,
    model_parameters,
    non_negative_int,
    usage_of,
)

_PARAMETERS = {
    "max_new_tokens": "max_tokens",
    "temperature": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "repetition_penalty": "repetition_penalty",
    "stream": "stream",
}


def _model(path: str) -> str | None:
    _, found, rest = path.partition("/models/")
    return rest.strip("/") or None if found else None


def _generation(document: Any) -> dict[str, Any] | None:
    """The first generation of a response: a list, Kong's ``{"data": [...]}``, or one object."""
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    if isinstance(document, list):
        document = document[0] if document else None
    return document if isinstance(document, dict) else None


class HuggingFaceTextGeneration:
    name = "huggingface"

    def detect(self, exchange: Exchange) -> str | None:
        if "/models/" not in exchange.path:
            return None
        body = exchange.request.json_object()
        return "completion" if body is not None and "inputs" in body else None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        body = exchange.request.json_object() or {}
        found = body.get("parameters")
        parameters: dict[str, Any] = found if isinstance(found, dict) else {}
        response = exchange.response
        call = LLMCall(
            provider=self.name,
            operation=operation,
            request_model=_model(exchange.path),
            model_parameters=model_parameters(parameters, keys=(), renames=_PARAMETERS),
            input=body.get("inputs"),
            stream=bool(parameters.get("stream") or body.get("stream")) or response.is_stream,
        )
        if response.is_stream:
            events = [event for event in response.events if isinstance(event, dict)]
            final = next((e for e in reversed(events) if e.get("generated_text")), None)
            texts = [
                e["token"]["text"]
                for e in events
                if isinstance(e.get("token"), dict) and isinstance(e["token"].get("text"), str)
            ]
            generation = final or ({"generated_text": "".join(texts)} if texts else None)
            for event in events:
                call.error = call.error or error_message(event, exchange.status)
        else:
            call.error = error_message(response.document, exchange.status)
            generation = _generation(response.document)
        if generation is None or call.error is not None:
            return call
        text = generation.get("generated_text")
        call.output = text if isinstance(text, str) else None
        details = generation.get("details")
        if isinstance(details, dict):
            finish = details.get("finish_reason")
            call.finish_reason = finish if isinstance(finish, str) else None
            generated = non_negative_int(details.get("generated_tokens"))
            prefill = details.get("prefill")
            prompt = len(prefill) if isinstance(prefill, list) and prefill else None
            if generated is not None:
                call.usage = usage_of(prompt, generated, "response")
        return call
