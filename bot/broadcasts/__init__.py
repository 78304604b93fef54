"""Broadcasts: staff messages to groups or a segment of members, planned once, queued resumably."""
