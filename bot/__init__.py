"""A WhatsApp payment agent for small vendors."""

__version__ = "0.1.0"
