"""Recognizer classes. Add a new one to :data:`services.ingestion.redaction.registry.RECOGNIZERS`."""
