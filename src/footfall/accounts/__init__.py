"""Accounts: users and their passwords, roles and API keys."""

from footfall.accounts.keys import (
    ApiKeyVerifier,
    KeyInfo,
    announce_key_changes,
    create_api_key,
    forget_api_keys,
    hash_key,
    parse_scopes,
    revoke_api_key,
)
from footfall.accounts.passwords import hash_password, validate_password, verify_password
from footfall.accounts.users import count_users, create_user, get_user, parse_role

__all__ = [
    "ApiKeyVerifier",
    "KeyInfo",
    "announce_key_changes",
    "count_users",
    "create_api_key",
    "create_user",
    "forget_api_keys",
    "get_user",
    "hash_key",
    "hash_password",
    "parse_role",
    "parse_scopes",
    "revoke_api_key",
    "validate_password",
    "verify_password",
]
