"""Sign-in: sessions, throttling, password policy, one-time password links, admin notices."""
