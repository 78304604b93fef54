"""The pure conversation core: check-in definitions, the engine and answer parsing. No I/O."""
