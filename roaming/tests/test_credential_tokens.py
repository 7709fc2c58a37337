"""Credentials tokens: hashes for those that let partners in, encryption for ours."""

import base64

import pytest
from cryptography.fernet import Fernet

from roaming.credential_tokens import (
    TokenUnreadable,
    authorization_candidates,
    authorization_header,
    token_decrypt,
    token_encrypt,
    token_generate,
    token_hash,
    token_is_valid,
)


def test_generated_tokens_are_valid_distinct_and_hashed_one_way():
    first, second = token_generate(), token_generate()
    assert first != second and token_is_valid(first) and len(first) >= 43
    assert token_hash(first) == token_hash(first) != token_hash(second)
    assert first not in token_hash(first)


@pytest.mark.parametrize(
    ("token", "valid"),
    [("abc", True), ("a" * 64, True), ("a" * 65, False), ("has space", False), ("", False),
     ("naïve", False), (None, False)],
)  # fmt: skip
def test_token_shape_as_ocpi_defines_it(token, valid):
    assert token_is_valid(token) is valid


def test_the_header_is_base64_and_old_peers_plain_form_is_read_too():
    header = authorization_header("example-token")
    assert header == "Token " + base64.b64encode(b"example-token").decode()
    assert authorization_candidates(header)[0] == "example-token"
    assert authorization_candidates("Token example-token") == ["example-token"]
    assert authorization_candidates("Bearer example-token") == []
    assert authorization_candidates(None) == []


def test_outgoing_tokens_are_encrypted_and_keys_rotate(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.OCPI_TOKEN_KEYS = [old_key]
    stored = token_encrypt("their-token-b")
    assert "their-token-b" not in stored
    settings.OCPI_TOKEN_KEYS = [new_key, old_key]  # rotation: the old key still decrypts
    assert token_decrypt(stored) == "their-token-b"
    assert token_decrypt(token_encrypt("x")) == "x"
    settings.OCPI_TOKEN_KEYS = [new_key]
    with pytest.raises(TokenUnreadable):
        token_decrypt(stored)


def test_without_keys_the_key_comes_from_the_secret_key(settings):
    settings.OCPI_TOKEN_KEYS = []
    stored = token_encrypt("their-token-b")
    assert token_decrypt(stored) == "their-token-b"
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789"
    with pytest.raises(TokenUnreadable):
        token_decrypt(stored)
