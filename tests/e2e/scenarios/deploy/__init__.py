"""The install: what the engine planned and ran, and what the nodes serve after it."""
