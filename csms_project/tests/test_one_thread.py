"""csms_project.one_thread: under ASGI a request changes threads a few times, not per middleware."""

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings

pytestmark = pytest.mark.django_db


async def test_a_request_moves_to_a_thread_once_not_per_middleware(async_client, monkeypatch):
    hops = []
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    response = await async_client.get("/api/v1/stations/")
    assert response.status_code == 200
    # The signal, the chain, the views' middleware, the view, its rendering and its
    # closing: six, where the middleware added two each (20 with ours).
    assert len(hops) <= 6, hops


def test_the_one_thread_middleware_is_innermost():
    # Django keeps a middleware async while the one inside it is: only the last
    # position turns the whole chain synchronous.
    assert settings.MIDDLEWARE[-1] == "csms_project.one_thread.OneThreadMiddleware"
