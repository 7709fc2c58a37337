"""Request rates per role (`anon`, `driver`, `operator`) and per purpose, with their headers.

The rates are REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] entries with those
scope names (e.g. "120/minute"), read on every request so that a changed
setting applies at once; a scope without a rate is not throttled. Counters
live in the default cache: give a cluster a shared cache.

Every API answer tells the caller where it stands (`rate_limit_headers`):
`X-RateLimit-Limit` (requests per window), `X-RateLimit-Remaining` and
`X-RateLimit-Reset` (seconds until the oldest counted request leaves the
window, i.e. until one more is allowed when none remain). A refused request
is a 429 with `Retry-After` (DRF's Throttled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .permissions import is_operator

LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"
RESET_HEADER = "X-RateLimit-Reset"

# Where a request keeps the states its throttles computed.
_STATES = "_rate_limit_states"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int  # seconds


def _user_of(request):
    """The authenticated user, or None; never authenticates again (that may raise)."""
    user = request.__dict__.get("_user")
    return user if user is not None and user.is_authenticated else None


class _ConfiguredRateThrottle(SimpleRateThrottle):
    """A throttle whose scope depends on the request and whose rate is read per request."""

    def __init__(self):  # the scope, hence the rate, is chosen per request
        self.rate = None
        self.key = None

    def get_scope(self, request, view) -> str | None:
        raise NotImplementedError

    def get_rate(self):
        return (api_settings.DEFAULT_THROTTLE_RATES or {}).get(self.scope)

    def _configure(self, request, view) -> bool:
        """Pick scope and rate for this request; False when it is not throttled."""
        self.scope = self.get_scope(request, view)
        self.rate = self.get_rate() if self.scope else None
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view) if self.rate else None
        return self.key is not None

    def allow_request(self, request, view):
        if not self._configure(request, view):
            return True
        allowed = super().allow_request(request, view)
        states = request.__dict__.setdefault(_STATES, [])
        states.append(self._state(allowed))
        return allowed

    def peek(self, request, view) -> RateLimitState | None:
        """The state without counting this request (for answers given before throttling ran)."""
        if not self._configure(request, view):
            return None
        self.now = self.timer()
        self.history = [
            moment for moment in self.cache.get(self.key, []) if moment > self.now - self.duration
        ]
        return self._state(len(self.history) < self.num_requests)

    def _state(self, allowed: bool) -> RateLimitState:
        remaining = self.num_requests - len(self.history) if allowed else 0
        reset = math.ceil(self.history[-1] + self.duration - self.now) if self.history else 0
        return RateLimitState(limit=self.num_requests, remaining=max(0, remaining), reset=reset)

    def get_cache_key(self, request, view):
        user = _user_of(request)
        ident = user.pk if user is not None else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RoleRateThrottle(_ConfiguredRateThrottle):
    """Every API request: `anon` per address, `driver` and `operator` per user."""

    def get_scope(self, request, view):
        user = _user_of(request)
        if user is None:
            return "anon"
        return "operator" if is_operator(user) else "driver"


class PurposeRateThrottle(_ConfiguredRateThrottle):
    """An extra limit for one kind of request, named by the view's `throttle_scope`.

    E.g. `password_reset`: counted per user, or per address for anonymous
    callers, on top of the role's rate.
    """

    def get_scope(self, request, view):
        return getattr(view, "throttle_scope", None)


def rate_limit_headers(request, view) -> dict[str, str]:
    """The X-RateLimit-* headers of the tightest limit that applies to this request."""
    states = request.__dict__.get(_STATES)
    if not states:  # answered before throttling (401, 403): report without counting
        states = [
            state
            for throttle in view.get_throttles()
            if isinstance(throttle, _ConfiguredRateThrottle)
            and (state := throttle.peek(request, view)) is not None
        ]
    if not states:
        return {}
    tightest = min(states, key=lambda state: (state.remaining, -state.reset))
    return {
        LIMIT_HEADER: str(tightest.limit),
        REMAINING_HEADER: str(tightest.remaining),
        RESET_HEADER: str(tightest.reset),
    }
