"""The recruiting workflow: applications, the pipeline, invitations, messages (docs/workflow.md)."""
