"""Pure business rules: money, orders, payment transactions, deposits. No I/O here."""
