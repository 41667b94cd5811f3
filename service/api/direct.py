"""Routes answered without the framework's per-request machinery: the scoring routes.

`RequestRoute` is a route whose endpoint takes the request alone and returns its response
itself. It is documented like any route (the scoring routes declare their body and
security in `openapi_extra`), but called without what FastAPI does around an endpoint
(reading the body for parameters, solving dependencies, serialising a return value),
which such an endpoint does not use: ~15 us a request.

`DirectRoutes` sends a request for the exact path and method of such a route straight to
its endpoint, without the router's walk over the routes and the wrappers the framework puts
around each route (two exit stacks and an exception wrapper): ~25 us more. Anything else
(another method, a trailing slash, another path, an app served under a root path) goes to
the router, which answers it as before (405, a redirect, 404). Errors an endpoint raises
reach the envelope, which answers them with the same handlers the router's routes use.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class RequestRoute(APIRoute):
    """A route whose endpoint takes the request alone and returns its response itself."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        if (
            dependant.request_param_name is None
            or dependant.dependencies
            or dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
        ):
            raise TypeError(f"{path}: a RequestRoute endpoint takes the Request and nothing else")

    def get_route_handler(self) -> Endpoint:
        handler: Endpoint = self.endpoint
        return handler

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request sent here without the router (see `DirectRoutes`)."""
        response = await self.get_route_handler()(Request(scope, receive, send))
        await response(scope, receive, send)


class DirectRoutes:
    """Requests for a `RequestRoute`'s exact method and path go straight to it; the rest
    to the router."""

    def __init__(self, app: ASGIApp, routes: Iterable[RequestRoute]) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], RequestRoute] = {
            (method, route.path): route for route in routes for method in route.methods or ()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.routes.get((scope["method"], scope["path"]))
            if route is not None:
                # What the router sets for the route it picks (metrics read the route).
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                await route.answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
