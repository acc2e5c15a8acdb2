"""The integration surface: API keys, the OpenAPI description, webhooks, ATS partner API."""
