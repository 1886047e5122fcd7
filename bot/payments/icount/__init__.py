"""iCount (Israel): pay pages from ``paypage/generate_sale``, IPNs confirmed through the API, documents
(invrec / receipt) as invoices, refunds by ``doc/cancel`` or ``cc/refund``."""
