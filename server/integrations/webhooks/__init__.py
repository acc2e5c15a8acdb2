"""Outbound webhooks (Standard Webhooks): signing, the outbox, delivery."""
