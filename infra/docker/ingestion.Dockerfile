# The ingestion gRPC service (python -m services.ingestion): PII redaction and storage, port 50051.
#
# Build from the repository root (the build context is the whole checkout):
#   docker build -f infra/docker/ingestion.Dockerfile -t salesai/ingestion:0.1.0 .
# BuildKit reads infra/docker/ingestion.Dockerfile.dockerignore (a per-Dockerfile ignore file) for this build.
# Details: infra/docker/README.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ------------------------------------------------------------------------------------------------------- deps
# One virtual environment in /opt/venv with torch and the project's dependencies, and nothing of the source: the
# runtime stage copies it to the same path as one large layer that changes only when pyproject.toml does.
FROM ${PYTHON_IMAGE} AS deps
ARG TORCH_VERSION=2.13.0
# CPU wheels by default; the CUDA variants (inference, training) pass TORCH_VERSION=2.14.1 and
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130 (the CUDA 13.0 build; infra/docker/README.md)
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Offline or mirrored builds: a pip --find-links location (a URL, or a path inside the build) that holds the torch
# wheel. When set, torch comes from there and only its dependencies from the default index (PyPI); TORCH_INDEX_URL
# is not used. infra/docker/build_local.sh serves a local wheel folder this way (README: "Building offline").
ARG TORCH_FIND_LINKS=
# Set (e.g. 1) with TORCH_FIND_LINKS: torch's own dependencies come from that location too (pip --no-index), so it
# must hold every wheel torch needs; for a CUDA build those are the NVIDIA runtime wheels (~2.5 GB). Unset, pip
# takes them from PyPI, even those the location holds (on equal versions pip prefers the index).
ARG TORCH_FIND_LINKS_ONLY=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
 && pip install --upgrade "pip>=24" setuptools wheel \
 && if [ -n "${TORCH_FIND_LINKS}" ] && [ -n "${TORCH_FIND_LINKS_ONLY}" ]; then \
      pip install --no-index --find-links "${TORCH_FIND_LINKS}" "torch==${TORCH_VERSION}"; \
    elif [ -n "${TORCH_FIND_LINKS}" ]; then \
      pip install --no-index --find-links "${TORCH_FIND_LINKS}" --no-deps "torch==${TORCH_VERSION}" \
      && pip install "torch==${TORCH_VERSION}"; \
    else \
      pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; \
    fi
WORKDIR /app
# The dependencies listed in pyproject.toml (torch is already satisfied), before and without the source. The torch
# requirement is replaced by torch==TORCH_VERSION: pyproject.toml pins 2.13.0, and a build with
# another TORCH_VERSION (the CUDA one, 2.14.1) would otherwise have pip replace the torch just installed.
COPY pyproject.toml ./
RUN TORCH_VERSION="${TORCH_VERSION}" python -c "import os, re, tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print(chr(10).join('torch==' + os.environ['TORCH_VERSION'] if re.split('[^A-Za-z0-9._-]', d, maxsplit=1)[0].lower() == 'torch' else d for d in deps))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# ---------------------------------------------------------------------------------------------------- builder
# The source in /app with the protobuf code generated at build time (it is never committed), byte-compiled.
FROM deps AS builder
COPY . .
RUN python proto/generate.py \
 && python -m compileall -q services models training annotation gateway proto

# ---------------------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
# libgomp1: LightGBM's wheel links the system OpenMP runtime, which the slim image lacks (the lead scorer, and the
# `salesai` CLI's scoring commands, import it); torch brings its own copy.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${UID}" salesai \
 && useradd --system --uid "${UID}" --gid salesai --home-dir /home/salesai --create-home \
      --shell /usr/sbin/nologin salesai \
 && mkdir -p /data \
 && chown salesai:salesai /data
COPY --from=deps /opt/venv /opt/venv
COPY --from=builder /app /app
COPY infra/docker/healthcheck.py /usr/local/bin/salesai-healthcheck
# The project installed editable, as `make setup` does: a .pth file, the metadata and the `salesai` script, a small
# layer, so a source change does not produce a new copy of the 2 GB virtual environment.
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation --no-index \
      -e /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HOME=/tmp/huggingface \
    MPLCONFIGDIR=/tmp/matplotlib \
    SALESAI_DATA_DIR=/data
WORKDIR /app
VOLUME ["/data"]
ENV SALESAI_INGESTION_HOST=0.0.0.0 \
    SALESAI_INGESTION_PORT=50051 \
    SALESAI_INGESTION_METRICS_PORT=9090
EXPOSE 50051 9090
USER 10001:10001
# grpc.health.v1: NOT_SERVING until warmed up, SERVING after, NOT_SERVING again while draining on SIGTERM.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD python /usr/local/bin/salesai-healthcheck grpc "127.0.0.1:${SALESAI_INGESTION_PORT}"
CMD ["python", "-m", "services.ingestion"]
