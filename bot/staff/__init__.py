"""Staff in chat: the commands staff users send the bot (stories, broadcasts) and their checks."""
