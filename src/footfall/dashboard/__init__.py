"""The dashboard: server-rendered pages (login, account, shared links) over the same services."""
