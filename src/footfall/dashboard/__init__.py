"""The dashboard: server-rendered pages (login, account, sites, site dashboards, shared links)."""
