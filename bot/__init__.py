"""Everything that talks to the world: settings, channels, the conversation service, the CLI."""
