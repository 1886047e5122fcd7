"""Payment providers behind one port (``port.PaymentProvider``): Stripe, iCount and the sandbox."""
