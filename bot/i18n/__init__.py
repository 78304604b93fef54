"""Translation catalogs: loading them for the bot and the console, extracting and checking them
for translators."""
