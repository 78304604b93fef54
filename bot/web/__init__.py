"""The web process: provider webhooks, health checks, the coordinator console (`console/`) and
the one-time links to members' copies of their data."""
