"""The other ways to reach people, with the outbox's contract: Instagram Direct, email, push."""
