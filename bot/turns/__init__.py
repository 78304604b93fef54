"""The conversation service: members' inbound messages (or a clock's timers) in, one engine turn
each through one path, alone or batched, and everything they caused written out by one writer
in the caller's transaction; the check-ins it runs; the terminal console that talks to it."""
