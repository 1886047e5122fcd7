"""Web Push to the vendor's dashboard: the VAPID keys and the push sender."""
