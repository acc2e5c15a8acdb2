"""Staff single sign-on: OpenID Connect (Authlib/joserfc) and WeCom QR sign-in."""
