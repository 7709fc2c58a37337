"""Property-based requests generated from our own OpenAPI schema: never a 5xx.

Runs the Django app in-process over WSGI as an operator (superuser), so every
endpoint, body and parameter of /api/schema/ is exercised.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from drivers.models import User

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def operator_token(transactional_db):
    user = User.objects.create_superuser("schema-operator", password="o" * 20)
    return Token.objects.create(user=user).key


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests must not close the test's transaction (Django's test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "driver": None, "operator": None, "login": None},
    }


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.django_db(transaction=True)
def test_no_request_makes_a_server_error(case, operator_token):
    response = case.call(headers={"Authorization": f"Token {operator_token}"})
    case.validate_response(response, checks=[not_a_server_error])
