"""The web process: provider webhooks and health checks."""
