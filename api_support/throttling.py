"""Request rates per role: `anon`, `driver` and `operator`.

The rates are REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] entries with those
scope names (e.g. "120/minute"), read on every request so that a changed
setting applies at once; a scope without a rate is not throttled. Counters
live in the default cache: give a cluster a shared cache.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .permissions import is_operator


class RoleRateThrottle(SimpleRateThrottle):
    def __init__(self):  # the scope, hence the rate, depends on the request
        pass

    def get_rate(self):
        return (api_settings.DEFAULT_THROTTLE_RATES or {}).get(self.scope)

    def allow_request(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            self.scope = "anon"
        else:
            self.scope = "operator" if is_operator(user) else "driver"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
