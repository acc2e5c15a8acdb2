"""Field-by-field encryption of personal data at rest (docs/security.md, "Encryption at rest")."""
