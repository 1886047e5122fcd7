"""Sandbox mode: the bot with no WhatsApp or payment account (checkout page, later the two phones)."""
