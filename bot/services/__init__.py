"""Use cases, as plain async functions taking their dependencies as arguments."""
