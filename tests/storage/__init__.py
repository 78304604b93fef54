"""Storage contract tests: every repository against every configured backend."""
