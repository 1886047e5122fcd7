"""Instagram Direct: customers write to the vendor's professional account; the bot answers through the
Graph API's Send API, within Instagram's 24-hour window, from the same outbox as WhatsApp."""
