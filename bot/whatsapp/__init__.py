"""WhatsApp: the inbound webhook (inbox), the per-number pywa clients and the outbox sender."""
