"""The leads service: lead records, live scoring and next-action suggestions over gRPC.

Modules, in reading order: ``store`` (customers, leads, stage history, outcomes, stored predictions) →
``scorer`` (signals from the database with ``services.scoring.signals``, the current scoring version, factors) →
``erasure`` (what erasing a customer removes here, and what stays anonymised) → ``core`` (scoring, suggestions,
outcomes feeding the similar index, feedback, the stale-lead scan, erasure with the vectors) → ``convert``
and ``servicer`` (protobuf) → ``config`` and ``server`` (wiring) → ``__main__``.
"""
