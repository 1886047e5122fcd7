"""The sandbox provider: payment pages served by the bot itself, for demos and tests."""
