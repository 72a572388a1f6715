"""Tracked links, email campaigns, recipient tokens and the newsletter helper."""
