"""Email to customers: the message as it is handed over (message.py) and the sender of the email outbox
(sender.py), through aiosmtplib."""
