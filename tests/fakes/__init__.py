"""Fake providers: real local HTTP servers that the real client libraries talk to."""
