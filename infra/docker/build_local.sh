#!/usr/bin/env bash
# Build and smoke-test the images without a Docker engine and without a container registry.
#
# Daemonless tools from Debian (podman, buildah, debootstrap, runc), a base image made locally from a Debian
# mirror instead of pulling python:3.11-slim-bookworm, pip reaching PyPI through the host's network, torch from a
# local wheel folder (download.pytorch.org unreachable). The Dockerfiles are used as they are: the local base and
# the wheel folder come in through their build arguments (PYTHON_IMAGE, TORCH_FIND_LINKS), whose defaults stay the
# official image and the PyTorch index. Details and measured results: infra/docker/README.md ("Building offline").
#
#   infra/docker/build_local.sh base                      # debootstrap → localhost/python:3.11-slim-bookworm
#   infra/docker/build_local.sh build gateway ingestion   # the images (default: all five)
#   infra/docker/build_local.sh smoke gateway ingestion   # run them, check health, uid, a gateway request
#   infra/docker/build_local.sh all                       # base, build and smoke of all five images
#   infra/docker/build_local.sh cuda                      # base, build and smoke of inference and training -cuda
#   BUILD_LOCAL_VARIANT=cuda infra/docker/build_local.sh build|smoke inference training   # the same, step by step
#   infra/docker/build_local.sh sizes | clean             # image sizes; remove every image, container and the rootfs
#
# Run as root on Debian 12 (apt-get install podman buildah debootstrap runc). Never in CI (a 2-core runner takes
# far too long): this is a manual, session-level check. Everything lands in $BUILD_LOCAL_DIR, never in the
# checkout. Environment:
#   BUILD_LOCAL_DIR           podman storage and configuration, the Debian root file system, logs
#                             (/var/tmp/salesai-build)
#   BUILD_LOCAL_REF           build from this git ref (`git archive`) instead of the working tree, e.g. HEAD
#   BUILD_LOCAL_EXTRA_CA_DIR  *.crt the local base image trusts, for a TLS-intercepting egress proxy
#                             (/usr/local/share/ca-certificates: the host's own extra certificates)
#   BUILD_LOCAL_TORCH_WHEELS  folder holding torch-<TORCH_VERSION>*.whl, served to the builds (/opt/wheels);
#                             empty: torch from TORCH_INDEX_URL, the Dockerfiles' default
#   BUILD_LOCAL_VARIANT       cpu (default) or cuda: the torch of the inference and training images, tagged
#                             -cpu or -cuda (gateway, ingestion and leads exist as CPU images only)
#   BUILD_LOCAL_CUDA_TORCH_VERSION  torch of the CUDA variant (2.14.1: the CUDA wheel on this machine's disk)
#   BUILD_LOCAL_CUDA_WHEEL_DIRS     folders searched for torch-<version>-*.whl and the wheels it depends on (NVIDIA
#                             runtime, triton, ...) ("/opt/pypi-more/files /opt/pypi/files"); build_local.sh links
#                             what they hold into $BUILD_LOCAL_DIR/wheels-cuda, downloads the rest (small: sympy,
#                             cuda-bindings, ...) from PyPI, and the build installs torch and all its dependencies
#                             from there (TORCH_FIND_LINKS_ONLY=1)
#   BUILD_LOCAL_CUDA_INDEX_URL      set (e.g. https://download.pytorch.org/whl/cu130): the CUDA torch from that
#                             index instead of a local wheel folder
#   BUILD_LOCAL_PYPI          index the CUDA wheel folder is completed from (https://pypi.org/simple)
#   BUILD_LOCAL_CA_BUNDLE     CA bundle pip on the host uses for it (/etc/ssl/certs/ca-certificates.crt)
#   BUILD_LOCAL_WHEELS_PORT   127.0.0.1 port of that wheel server (18765; fixed, so the layer cache stays valid)
#   BUILD_LOCAL_DATABASE_URL  database of the smoke run (default: SQLite in the shared volume)
#   BUILD_LOCAL_PORT_BASE     smoke ports: gateway +0, ingestion +1, inference +2, training +3, leads +4,
#                             metrics +11..+14 (18000)
#   BUILD_LOCAL_KEEP          set: the smoke run leaves its containers running (stop: build_local.sh smoke-stop)
#   SALESAI_VERSION           image tag (0.1.0; inference and training get -cpu or -cuda), as in compose.yaml
#   NICE                      prefix of every heavy command ("nice -n 19 ionice -c3")
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${BUILD_LOCAL_DIR:-/var/tmp/salesai-build}
VERSION=${SALESAI_VERSION:-0.1.0}
VARIANT=${BUILD_LOCAL_VARIANT:-cpu}
[[ $VARIANT == cpu || $VARIANT == cuda ]] || { echo "BUILD_LOCAL_VARIANT must be cpu or cuda, not $VARIANT" >&2; exit 2; }
CUDA_TORCH_VERSION=${BUILD_LOCAL_CUDA_TORCH_VERSION:-2.14.1}
read -r -a CUDA_WHEEL_DIRS <<<"${BUILD_LOCAL_CUDA_WHEEL_DIRS-/opt/pypi-more/files /opt/pypi/files}"
CUDA_INDEX_URL=${BUILD_LOCAL_CUDA_INDEX_URL:-}
if [[ $VARIANT == cuda ]]; then
  WHEELS=${BUILD_LOCAL_DIR:-/var/tmp/salesai-build}/wheels-cuda
  [[ -z $CUDA_INDEX_URL ]] || WHEELS=
else
  WHEELS=${BUILD_LOCAL_TORCH_WHEELS-/opt/wheels}
fi
WHEELS_PORT=${BUILD_LOCAL_WHEELS_PORT:-18765}
PORT_BASE=${BUILD_LOCAL_PORT_BASE:-18000}
read -r -a NICE <<<"${NICE-nice -n 19 ionice -c3}"
PYTHON_IMAGE=localhost/python:3.11-slim-bookworm
DEBIAN_IMAGE=localhost/debian:bookworm-slim
DEFAULT_IMAGES=(gateway ingestion inference leads training)
[[ $VARIANT == cpu ]] || DEFAULT_IMAGES=(inference training)

log() { printf '[build_local %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

tag_of() {
  case $1 in
    inference | training) echo "localhost/salesai/$1:${VERSION}-$VARIANT" ;;
    gateway | ingestion | leads) echo "localhost/salesai/$1:${VERSION}" ;;
    *) die "unknown image $1 (gateway, ingestion, inference, leads, training)" ;;
  esac
}

# --------------------------------------------------------------------------------------------- podman setup
# Private storage and configuration under $WORK, so nothing touches the machine's own podman set-up. Each setting
# works around something this kind of sandbox (a VM where root lacks CAP_SYS_RESOURCE, cgroups v1 + v2 hybrid)
# refuses, and is harmless elsewhere:
#   runtime runc   crun 1.8 (Debian 12) stops with "cgroups in hybrid mode not supported"
#   ulimits        podman's default RLIMIT_NOFILE/NPROC for root (1048576) are above what root may raise to here;
#                  podman itself lowers its own NPROC to 32768, so the container may not ask for more
setup_podman() {
  command -v podman >/dev/null || die "podman is missing: apt-get install -y podman buildah runc"
  mkdir -p "$WORK"
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
  [[ $nofile == unlimited || $nofile -gt 1048576 ]] && nofile=1048576
  cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
  cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
  export CONTAINERS_STORAGE_CONF="$WORK/storage.conf" CONTAINERS_CONF="$WORK/containers.conf"
}

# ------------------------------------------------------------------------------------------------ base image
# debootstrap's minbase (Debian 12 from the configured mirror), trimmed like the official slim images, imported as
# localhost/debian:bookworm-slim; then local/python-3.11-slim-bookworm.Containerfile adds Python on top.
cmd_base() {
  setup_podman
  local rootfs=$WORK/rootfs mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
  if ! podman image exists "$DEBIAN_IMAGE"; then
    command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap"
    rm -rf "$rootfs"
    log "debootstrap bookworm (minbase) from $mirror"
    "${NICE[@]}" debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
      || die "debootstrap failed: $WORK/debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/debootstrap "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
    log "importing $DEBIAN_IMAGE"
    tar --numeric-owner -C "$rootfs" -c . | podman import --quiet --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
    rm -rf "$rootfs"
  fi
  # the context: the Containerfile and the egress proxy's CA certificates, if the host trusts extra ones
  local context=$WORK/base-context ca_dir=${BUILD_LOCAL_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
  rm -rf "$context" && mkdir -p "$context/extra-ca"
  cp "$ROOT/infra/docker/local/python-3.11-slim-bookworm.Containerfile" "$context/Containerfile"
  if compgen -G "$ca_dir/*.crt" >/dev/null; then
    cp "$ca_dir"/*.crt "$context/extra-ca/"
    log "the base image trusts the extra CA certificates in $ca_dir: $(cd "$ca_dir" && echo *.crt)"
  fi
  log "building $PYTHON_IMAGE"
  "${NICE[@]}" podman build --network host --format docker --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
    -f "$context/Containerfile" -t "$PYTHON_IMAGE" "$context" >"$WORK/base.log" 2>&1 \
    || die "base image build failed: $WORK/base.log"
  rm -rf "$context"
  podman run --rm --network host "$PYTHON_IMAGE" python -c 'import sys; print("base image:", sys.version.split()[0])'
}

# ---------------------------------------------------------------------------------------------------- images
# The CUDA variant's wheel folder: torch-$CUDA_TORCH_VERSION and every wheel it needs, so that the build installs
# them all from the local wheel server (pip --no-index, TORCH_FIND_LINKS_ONLY=1). Resolved on the host against PyPI's
# metadata (pip --dry-run --report: no wheel is downloaded for it); each wheel found in $CUDA_WHEEL_DIRS is linked,
# only the others are downloaded. With only TORCH_FIND_LINKS, pip in the build would fetch the NVIDIA wheels (~2.5 GB)
# from PyPI again: on equal versions it prefers the index to a find-links location.
prepare_cuda_wheels() {
  [[ $VARIANT == cuda && -n $WHEELS ]] || return 0
  local report=$WORK/wheels-cuda-report.json missing=() dir torch_wheel=
  local pip=(python3 -m pip --isolated --disable-pip-version-check --cert "${BUILD_LOCAL_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}")
  mkdir -p "$WHEELS"
  for dir in "${CUDA_WHEEL_DIRS[@]}"; do
    torch_wheel=$(compgen -G "$dir/torch-$CUDA_TORCH_VERSION-*.whl" | head -1) && break
  done
  [[ -n $torch_wheel ]] || die "no torch-$CUDA_TORCH_VERSION-*.whl in ${CUDA_WHEEL_DIRS[*]} (BUILD_LOCAL_CUDA_WHEEL_DIRS)"
  ln -sf "$torch_wheel" "$WHEELS/"
  log "resolving torch==$CUDA_TORCH_VERSION and its dependencies (pip --dry-run against ${BUILD_LOCAL_PYPI:-https://pypi.org/simple})"
  "${NICE[@]}" "${pip[@]}" install --quiet --dry-run --ignore-installed --only-binary :all: --report "$report" \
    --index-url "${BUILD_LOCAL_PYPI:-https://pypi.org/simple}" --find-links "$WHEELS" "torch==$CUDA_TORCH_VERSION" \
    >"$WORK/wheels-cuda.log" 2>&1 || die "could not resolve torch==$CUDA_TORCH_VERSION: $WORK/wheels-cuda.log"
  # one line per wheel: "local <path>" (found in a wheel folder) or "pypi <name>==<version>"
  mapfile -t missing < <(python3 - "$report" "$WHEELS" "${CUDA_WHEEL_DIRS[@]}" <<'EOF'
import json, os, sys
report, target, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
for item in json.load(open(report))["install"]:
    name = item["download_info"]["url"].split("#")[0].rsplit("/", 1)[-1]
    found = [os.path.join(d, name) for d in dirs if os.path.isfile(os.path.join(d, name))]
    if found:
        if not os.path.lexists(os.path.join(target, name)):
            os.symlink(found[0], os.path.join(target, name))
    elif not os.path.isfile(os.path.join(target, name)):
        print(f"{item['metadata']['name']}=={item['metadata']['version']}")
EOF
  )
  if ((${#missing[@]})); then
    log "downloading from PyPI what the wheel folders lack: ${missing[*]}"
    "${NICE[@]}" "${pip[@]}" download --quiet --no-deps --only-binary :all: --index-url "${BUILD_LOCAL_PYPI:-https://pypi.org/simple}" \
      -d "$WHEELS" "${missing[@]}" >>"$WORK/wheels-cuda.log" 2>&1 || die "download failed: $WORK/wheels-cuda.log"
  fi
  log "CUDA wheel folder $WHEELS: $(find "$WHEELS" -name '*.whl' | wc -l) wheels, $(du -shL "$WHEELS" | cut -f1)" \
    "($(find "$WHEELS" -name '*.whl' -type l | wc -l) linked from ${CUDA_WHEEL_DIRS[*]}, ${#missing[@]} from PyPI)"
}

WHEEL_SERVER_PID=
start_wheel_server() {
  [[ -z $WHEELS ]] && return 0
  compgen -G "$WHEELS/torch-*.whl" >/dev/null || die "no torch wheel in $WHEELS (BUILD_LOCAL_TORCH_WHEELS)"
  ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $WHEELS_PORT), 1)" 2>/dev/null \
    || die "127.0.0.1:$WHEELS_PORT is taken (BUILD_LOCAL_WHEELS_PORT)"
  python3 -m http.server "$WHEELS_PORT" --bind 127.0.0.1 --directory "$WHEELS" >"$WORK/wheels-http.log" 2>&1 &
  WHEEL_SERVER_PID=$!
  trap stop_wheel_server EXIT
  for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$WHEELS_PORT/')" 2>/dev/null && return 0
    sleep 0.1
  done
  die "the wheel server on 127.0.0.1:$WHEELS_PORT did not start ($WORK/wheels-http.log)"
}

stop_wheel_server() {
  [[ -z $WHEEL_SERVER_PID ]] || kill "$WHEEL_SERVER_PID" 2>/dev/null || true
  WHEEL_SERVER_PID=
}

context_dir() {
  if [[ -z ${BUILD_LOCAL_REF:-} ]]; then
    echo "$ROOT"
    return
  fi
  local dir=$WORK/context
  rm -rf "$dir" && mkdir -p "$dir"
  git -C "$ROOT" archive "$BUILD_LOCAL_REF" | tar -x -C "$dir"
  echo "$dir"
}

cmd_build() {
  setup_podman
  podman image exists "$PYTHON_IMAGE" || cmd_base
  local images=("$@") context name tag start seconds
  ((${#images[@]})) || images=("${DEFAULT_IMAGES[@]}")
  context=$(context_dir)
  local args=(--network host --format docker --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
  if [[ $VARIANT == cuda ]]; then
    for name in "${images[@]}"; do
      [[ $name == inference || $name == training ]] || die "$name has no CUDA variant (inference, training)"
    done
    prepare_cuda_wheels
    args+=(--build-arg "TORCH_VERSION=$CUDA_TORCH_VERSION")
    if [[ -n $CUDA_INDEX_URL ]]; then
      args+=(--build-arg "TORCH_INDEX_URL=$CUDA_INDEX_URL")
    else
      args+=(--build-arg "TORCH_FIND_LINKS=http://127.0.0.1:$WHEELS_PORT/" --build-arg TORCH_FIND_LINKS_ONLY=1)
    fi
  elif [[ -n $WHEELS ]]; then
    args+=(--build-arg "TORCH_FIND_LINKS=http://127.0.0.1:$WHEELS_PORT/")
  fi
  start_wheel_server
  for name in "${images[@]}"; do
    tag=$(tag_of "$name")
    log "building $tag from $context (log: $WORK/build-$name.log)"
    start=$(date +%s)
    # --format docker keeps HEALTHCHECK (the OCI image format has no such field, podman drops it by default);
    # --ignorefile names the per-Dockerfile ignore file explicitly (buildah 1.28 finds it by itself, as BuildKit).
    "${NICE[@]}" podman build "${args[@]}" \
      -f "$context/infra/docker/$name.Dockerfile" --ignorefile "$context/infra/docker/$name.Dockerfile.dockerignore" \
      -t "$tag" "$context" >"$WORK/build-$name.log" 2>&1 || die "$name failed: tail $WORK/build-$name.log"
    seconds=$(($(date +%s) - start))
    log "built $tag in ${seconds}s, $(podman image inspect --format '{{.Size}}' "$tag" | numfmt --to=si)B"
    echo "$name $tag ${seconds}s $(podman image inspect --format '{{.Size}}' "$tag")" >>"$WORK/build-times.txt"
  done
  stop_wheel_server
  trap - EXIT
  [[ -z ${BUILD_LOCAL_REF:-} ]] || rm -rf "$WORK/context"
}

cmd_sizes() {
  setup_podman
  podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | sort
}

# ----------------------------------------------------------------------------------------------------- smoke
# The containers as compose runs them (user 10001, read-only root, /tmp a tmpfs, /data a volume, the compose
# file's SALESAI_* keys), on the host network with ports moved to $PORT_BASE+ so they cannot collide with a
# `salesai up` on the same machine. Checks: the image's own HEALTHCHECK (podman healthcheck run), the uid, and a
# gateway request with an API key minted by `salesai keys create` in the gateway image.
SMOKE=salesai-smoke
smoke_env() {
  local key pepper
  key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
  pepper=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
  cat >"$WORK/smoke.env" <<EOF
SALESAI_DATA_DIR=/data
SALESAI_DATABASE_URL=${BUILD_LOCAL_DATABASE_URL:-sqlite:////data/salesai.db}
SALESAI_LOG_LEVEL=INFO
SALESAI_LOG_JSON=true
SALESAI_MASTER_KEY=$key
SALESAI_API_KEY_PEPPER=$pepper
SALESAI_MODELS_BASE_MODEL=/app/build/models/multilingual-e5-small
SALESAI_MODELS_REGISTRY_DIR=/data/models
SALESAI_MODELS_DEVICE=$([[ $VARIANT == cuda ]] && echo auto || echo cpu)
SALESAI_MODELS_PRECISION=auto
SALESAI_INGESTION_HOST=127.0.0.1
SALESAI_INGESTION_PORT=$((PORT_BASE + 1))
SALESAI_INGESTION_METRICS_PORT=$((PORT_BASE + 11))
SALESAI_INFERENCE_HOST=127.0.0.1
SALESAI_INFERENCE_PORT=$((PORT_BASE + 2))
SALESAI_INFERENCE_METRICS_PORT=$((PORT_BASE + 12))
SALESAI_LEADS_HOST=127.0.0.1
SALESAI_LEADS_PORT=$((PORT_BASE + 4))
SALESAI_LEADS_METRICS_PORT=$((PORT_BASE + 14))
SALESAI_LEADS_SCORING_DIR=/data/scoring
SALESAI_TRAINING_HOST=127.0.0.1
SALESAI_TRAINING_PORT=$((PORT_BASE + 3))
SALESAI_TRAINING_METRICS_PORT=$((PORT_BASE + 13))
SALESAI_TRAINING_INFERENCE_URL=127.0.0.1:$((PORT_BASE + 2))
SALESAI_TRAINING_DATASET_ROOTS=["/data/datasets", "/app/training/data"]
SALESAI_TRAINING_TORCH_THREADS=2
SALESAI_GATEWAY_HOST=127.0.0.1
SALESAI_GATEWAY_PORT=$PORT_BASE
SALESAI_GATEWAY_INGESTION_URL=127.0.0.1:$((PORT_BASE + 1))
SALESAI_GATEWAY_INFERENCE_URL=127.0.0.1:$((PORT_BASE + 2))
SALESAI_GATEWAY_TRAINING_URL=127.0.0.1:$((PORT_BASE + 3))
SALESAI_GATEWAY_LEADS_URL=127.0.0.1:$((PORT_BASE + 4))
SALESAI_GATEWAY_RATE_LIMIT_STORAGE=memory://
EOF
  chmod 600 "$WORK/smoke.env"
}

run_service() { # name image [podman run options...] [-- command...]
  local name=$1 image=$2 opts=()
  shift 2
  while (($#)) && [[ $1 != -- ]]; do opts+=("$1") && shift; done
  [[ ${1:-} != -- ]] || shift
  podman rm -f "$SMOKE-$name" >/dev/null 2>&1 || true
  # --health-interval disable: podman schedules health checks with systemd timers, absent here; the checks are run
  # on demand instead (podman healthcheck run: the image's HEALTHCHECK command, inside the container)
  # --cap-drop ALL, no-new-privileges, read-only root, /tmp a tmpfs: the Kubernetes securityContext
  "${NICE[@]}" podman run -d --name "$SMOKE-$name" --network host --user 10001:10001 --read-only --tmpfs /tmp \
    --cap-drop ALL --security-opt no-new-privileges \
    -v "$SMOKE-data:/data" --env-file "$WORK/smoke.env" --health-interval disable "${opts[@]}" "$image" "$@" >/dev/null
}

start_service() { # name: as compose.yaml runs it
  case $1 in
    training)
      # compose: entrypoint python -m services.training, health check on its gRPC port
      run_service training "$(tag_of training)" --entrypoint python \
        --health-cmd "python /usr/local/bin/salesai-healthcheck grpc 127.0.0.1:$((PORT_BASE + 3))" \
        -- -m services.training ;;
    *) run_service "$1" "$(tag_of "$1")" ;;
  esac
}

wait_healthy() { # name timeout_s
  local deadline=$(($(date +%s) + $2)) start
  start=$(date +%s)
  while (($(date +%s) < deadline)); do
    if [[ $(podman inspect --format '{{.State.Running}}' "$SMOKE-$1") != true ]]; then
      podman logs --tail 40 "$SMOKE-$1" >&2
      die "$1 exited"
    fi
    if podman healthcheck run "$SMOKE-$1" >/dev/null 2>&1; then
      log "$1 healthy after $(($(date +%s) - start))s ($(podman inspect --format '{{.Config.Healthcheck.Test}}' "$SMOKE-$1"))"
      echo "$1 healthy_after=$(($(date +%s) - start))s check=$(podman inspect --format '{{.Config.Healthcheck.Test}}' "$SMOKE-$1")" \
        >>"$WORK/smoke-results.txt"
      return 0
    fi
    sleep 3
  done
  podman logs --tail 40 "$SMOKE-$1" >&2
  die "$1 not healthy after $2 s"
}

cmd_smoke() {
  setup_podman
  local images=("$@") name gateway
  ((${#images[@]})) || images=("${DEFAULT_IMAGES[@]}")
  gateway=$(tag_of gateway)
  # the CUDA smoke run may go without the gateway image: every image has the `salesai` CLI
  podman image exists "$gateway" || [[ " ${images[*]} " == *" gateway "* ]] || gateway=$(tag_of "${images[0]}")
  : >"$WORK/smoke-results.txt"
  smoke_env
  cmd_smoke_stop
  [[ -n ${BUILD_LOCAL_KEEP:-} ]] || trap 'cmd_smoke_stop' EXIT
  podman volume create "$SMOKE-data" >/dev/null
  log "migrations: salesai db upgrade ($gateway, as the compose service migrate)"
  "${NICE[@]}" podman run --rm --network host --user 10001:10001 --read-only --tmpfs /tmp -v "$SMOKE-data:/data" \
    --env-file "$WORK/smoke.env" --entrypoint salesai "$gateway" db upgrade
  echo "migrate ok" >>"$WORK/smoke-results.txt"
  for name in "${images[@]}"; do
    [[ $name == gateway ]] || start_service "$name"
  done
  for name in "${images[@]}"; do
    [[ $name == gateway ]] || wait_healthy "$name" 600
  done
  if [[ " ${images[*]} " == *" gateway "* ]]; then
    start_service gateway
    smoke_gateway "${images[@]}"
  fi
  [[ $VARIANT == cpu ]] || smoke_cuda "${images[@]}"
  local rss_kib
  for name in "${images[@]}"; do
    rss_kib=$(podman exec "$SMOKE-$name" grep VmRSS /proc/1/status | grep -Eo '[0-9]+' | head -1)
    log "$name runs as $(podman exec "$SMOKE-$name" id); RSS $((rss_kib / 1024)) MiB"
    echo "$name $(podman exec "$SMOKE-$name" id | cut -d' ' -f1-2) rss_mib=$((rss_kib / 1024))" >>"$WORK/smoke-results.txt"
  done
  log "results ($WORK/smoke-results.txt):"
  cat "$WORK/smoke-results.txt" >&2
}

smoke_gateway() {
  local url=http://127.0.0.1:$PORT_BASE deadline key code body
  deadline=$(($(date +%s) + 120))
  until curl -fsS "$url/healthz" >/dev/null 2>&1; do
    (($(date +%s) < deadline)) || { podman logs --tail 40 "$SMOKE-gateway" >&2; die "gateway /healthz never answered"; }
    sleep 2
  done
  body=$(curl -sS "$url/readyz")
  log "gateway /readyz: $body"
  echo "gateway readyz=$body" >>"$WORK/smoke-results.txt"
  # /readyz is 200 only when all four backing services answer (ingestion, inference, training, leads)
  if [[ $body == *'"status":"ready"'* ]]; then
    wait_healthy gateway 120
  else
    echo "gateway healthcheck=skipped (not every backing service runs)" >>"$WORK/smoke-results.txt"
  fi
  # a key as `salesai keys create` mints it in compose (exec in the gateway container); the token is the last line
  key=$(podman exec "$SMOKE-gateway" salesai keys create --tenant smoke --role admin --name smoke | tail -1)
  [[ $key == sai_* ]] || die "salesai keys create printed no key"
  smoke_request "$url" "$key" GET /healthz ''
  if [[ " $* " == *" ingestion "* ]]; then
    smoke_request "$url" "$key" POST /v1/redact \
      '{"text": "Hi, this is Maria Keller, call me on +49 30 1234567 or write to maria.keller@example.com"}'
    smoke_request "$url" "$key" POST /v1/interactions \
      '{"external_id": "smoke-1", "text": "We want 40 seats, but the price is too high. Mail me at li.wei@example.cn", "customer_id": "c-1", "lead_id": "l-1"}'
  fi
  if [[ " $* " == *" ingestion "* && " $* " == *" inference "* ]]; then
    smoke_request "$url" "$key" POST /v1/classify \
      '{"texts": ["Can you send me the contract today? We are ready to sign.", "This is too expensive, we will look at other vendors."]}'
  fi
}

# The CUDA variants on a machine without a GPU: torch is the CUDA build (torch.version.cuda set), sees no device,
# and the services' device choice (SALESAI_MODELS_DEVICE=auto, models/device.py) falls back to the CPU.
smoke_cuda() {
  local name out
  for name in "$@"; do
    [[ $name == inference || $name == training ]] || continue
    out=$(podman exec "$SMOKE-$name" python -c '
import torch
from models.device import resolve_device
from models.config import ModelSettings
print(f"torch={torch.__version__} cuda={torch.version.cuda} cudnn={torch.backends.cudnn.version()}"
      f" cuda_available={torch.cuda.is_available()} device={resolve_device(ModelSettings().device)}")' 2>&1 | tail -1)
    log "$name: $out"
    echo "$name $out" >>"$WORK/smoke-results.txt"
    [[ $out == *" cuda=None "* || $out != *"cuda_available=False device=cpu"* ]] \
      && die "$name: expected a CUDA torch that falls back to the CPU here, got: $out"
  done
  # without the gateway (no CPU images needed): one Classify call straight to the inference service's gRPC port
  [[ " $* " == *" inference "* ]] || return 0
  out=$(podman exec "$SMOKE-inference" python -c '
import os, grpc
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc
stub = inference_pb2_grpc.InferenceServiceStub(grpc.insecure_channel("127.0.0.1:" + os.environ["SALESAI_INFERENCE_PORT"]))
texts = ["Can you send me the contract today? We are ready to sign.", "This is too expensive, we will look at other vendors."]
reply = stub.Classify(inference_pb2.ClassifyRequest(tenant_id="smoke", texts=texts), timeout=120)
print(" | ".join(", ".join(f"{p.task}={p.label} {p.confidence:.3f}" for p in r.predictions) for r in reply.results))' 2>&1 | tail -1)
  log "inference Classify: $out"
  echo "inference grpc_classify=$out" >>"$WORK/smoke-results.txt"
  [[ $out == *"intent="* ]] || die "inference Classify failed: $out"
}

smoke_request() { # url key method path json
  local out=$WORK/smoke-response.json code
  if [[ $3 == GET ]]; then
    code=$(curl -sS -o "$out" -w '%{http_code}' -H "Authorization: Bearer $2" "$1$4")
  else
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$3" -H "Authorization: Bearer $2" \
      -H 'Content-Type: application/json' -d "$5" "$1$4")
  fi
  log "$3 $4 -> HTTP $code: $(head -c 600 "$out")"
  echo "gateway $3 $4 http=$code $(head -c 400 "$out")" >>"$WORK/smoke-results.txt"
  [[ $code == 2* ]] || die "$3 $4 answered HTTP $code"
}

cmd_smoke_stop() {
  setup_podman
  local names=()
  mapfile -t names < <(podman ps -a --format '{{.Names}}' | grep "^$SMOKE-" || true)
  # (stderr: podman cannot remove the systemd health-check timers it never created here)
  ((${#names[@]} == 0)) || podman rm -f -t 15 "${names[@]}" >/dev/null 2>&1
  podman volume rm -f "$SMOKE-data" >/dev/null 2>&1 || true
}

cmd_clean() {
  setup_podman
  cmd_smoke_stop
  podman system reset --force >/dev/null 2>&1 || true
  rm -rf "$WORK"
  log "removed $WORK"
}

main() {
  case ${1:-} in
    base) cmd_base ;;
    build) shift && cmd_build "$@" ;;
    smoke) shift && cmd_smoke "$@" ;;
    smoke-stop) cmd_smoke_stop ;;
    sizes) cmd_sizes ;;
    all) cmd_base && cmd_build && cmd_smoke ;;
    cuda) [[ $VARIANT == cuda ]] || exec env BUILD_LOCAL_VARIANT=cuda "$0" "$@"
      cmd_base && cmd_build && cmd_smoke ;;
    clean) cmd_clean ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' && exit 2 ;;
  esac
}

# on one line: bash has read the whole file before main runs, so editing the script meanwhile is safe
main "$@"; exit $?
