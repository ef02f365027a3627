"""Hand-written fakes of systems we do not own, for tests only (see each module's docstring for its scope)."""
