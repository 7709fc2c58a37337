"""The console is served with a Content Security Policy; the API is not."""

import pytest

pytestmark = pytest.mark.django_db


def test_console_pages_carry_a_strict_script_policy(admin_client):
    policy = admin_client.get("/admin/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy


def test_api_docs_are_left_out(admin_client):
    assert "Content-Security-Policy" not in admin_client.get("/api/docs/")
