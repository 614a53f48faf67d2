"""The platform's entrypoint for the NeMo Guardrails server (see server.py for why it exists)."""
