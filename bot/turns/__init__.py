"""The conversation service: one member's inbound message (or a clock's timer) in, one engine turn,
and everything it caused written out in the caller's transaction; the check-ins it runs."""
