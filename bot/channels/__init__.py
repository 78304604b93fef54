"""Channels: where members' messages come from and where the bot's replies go."""
