"""The call-intake service (``dispatch serve``): the live plan behind an HTTP API.

* ``state``: :class:`LiveService`, the day's live plan, durable in the store's log;
* ``schemas``: request and response bodies;
* ``security``: tokens and roles, rate and body limits;
* ``app``: the FastAPI application and the server.
"""

from dispatch.service.app import create_app, openapi_document, run
from dispatch.service.security import load_tokens, parse_tokens, token_digest
from dispatch.service.state import CST, LiveService, ServiceConfig, ServiceError

__all__ = ["CST", "LiveService", "ServiceConfig", "ServiceError", "create_app", "load_tokens", "openapi_document",
           "parse_tokens", "run", "token_digest"]
