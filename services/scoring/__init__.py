"""Lead scoring from any table: calibrated gradient-boosted trees (naive Bayes on small data) with exact
per-row factor contributions rendered as English and Chinese sentences, and file-based versions.

Modules, in reading order: ``config`` (the knobs) → ``table`` (reading, target, feature typing) → ``split``
→ ``estimators`` (scorers and calibration) → ``metrics`` → ``explain`` (factor sentences) → ``model``
(``train`` and ``ScoringModel``) → ``registry`` (versions) → ``cli``.

Nothing heavy is imported here, so ``salesai`` starts fast; import the modules you need.
"""
