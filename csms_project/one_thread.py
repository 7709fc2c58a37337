"""A pass-through middleware that has Django run each request in one thread.

Under ASGI, Django runs the async-capable middleware of `MiddlewareMixin`
(all of Django's own, and most others) in async mode, and each of them
then moves its `process_request` and `process_response` to a thread and
back: about twenty thread hops for every request with our middleware list,
before and after a view that is synchronous anyway. The profile of the API
node under ten concurrent commands showed those hand-overs (waking a thread,
waiting for the GIL) as its largest single cost (bench/results/PROFILE.md).

Django picks each middleware's mode from the inside out, keeping async as
long as the next one can: a synchronous-only middleware last in MIDDLEWARE
(innermost) turns every middleware around it synchronous. The request then
moves to its thread once, at the outermost layer, and every middleware runs
there, as under WSGI; only the URL resolution steps back to the event loop,
and the (synchronous) view comes straight back to the same thread.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class OneThreadMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
