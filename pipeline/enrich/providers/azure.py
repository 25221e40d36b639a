"""Azure OpenAI: ``/openai/deployments/{deployment}/…`` and the ``/openai/v1/…`` routes.

Bodies are OpenAI's; the request carries no model, so the deployment name stands in for it
until the response names the real model (cost normalisation maps deployment names).
"""

from __future__ import annotations

import re

from pipeline.enrich.providers.base import Exchange, LLMCall
from pipeline.enrich.providers.openai import operation_for_path, parse_openai

_DEPLOYMENT = re.compile(r"/openai/deployments/(?P<deployment>[^/]+)/")
_AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


class AzureOpenAI:
    name = "azure"

    def detect(self, exchange: Exchange) -> str | None:
        path = exchange.path
        deployment = "/openai/deployments/" in path and _DEPLOYMENT.search(path)
        if deployment or exchange.upstream_host.endswith(_AZURE_HOSTS):
            return operation_for_path(path)
        if "/openai/" in path and exchange.query("api-version"):
            return operation_for_path(path)
        return None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        call = parse_openai(operation, exchange.request, exchange.response, exchange.status)
        call.provider = self.name
        match = _DEPLOYMENT.search(exchange.path)
        if match:
            call.metadata["azure_deployment"] = match["deployment"]
            call.request_model = call.request_model or match["deployment"]
        version = exchange.query("api-version")
        if version:
            call.metadata["azure_api_version"] = version
        return call
