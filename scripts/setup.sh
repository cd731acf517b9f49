#!/usr/bin/env bash
# One idempotent setup for a fresh Debian 12 machine, run as root.
#
# Installs and starts what the local stack and the test suite need:
#   docker.io + a running dockerd, the docker buildx plugin (Debian 13's package),
#   docker-registry, debootstrap, git, chromium (browser tests), node's
#   configurable-http-proxy, node's oidc-provider (the local OpenID Provider, from its
#   lockfile), a virtual environment at .venv with this project
#   installed (editable), and the local base images
#   local/debian:bookworm and local/jupyter-base:<version>, and a registry storage
#   holding the latter that new stacks start their registry from (no push on a first launch).
# For HPC (the Slurm Outpost): munge + a running munged, a one-node Slurm cluster on
#   loopback with its config in $STATE/slurm (scripts/slurm-cluster.sh), Charliecloud,
#   openssh-server (tests and the stack run their own sshd as the tunnel's login node),
#   the service accounts nfdi-hpc (runs the jobs) and nfdi-tunnel (tunnel logins), and
#   a local CA in $STATE/tls with a certificate for the registry's TLS endpoint
#   (ch-image only pulls over https).
#
# Every step checks first whether its work is already done, so a second run
# takes seconds. Nothing is pulled from Docker Hub: the base images are made
# here with debootstrap and `docker import`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${NFDI_LAUNCHER_STATE:-/var/lib/nfdi-launcher}"
JUPYTERHUB_VERSION="6.1.1"
BASE_IMAGE="local/jupyter-base:${JUPYTERHUB_VERSION}"
DEBIAN_IMAGE="local/debian:bookworm"
DEBIAN_MIRROR="${NFDI_LAUNCHER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$STATE"

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
timed() { local t0=$SECONDS; "$@"; log "$1 ${2:-} took $((SECONDS - t0)) s"; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: scripts/setup.sh installs system packages and must run as root" >&2
    exit 2
  fi
}

apt_packages() {
  local want=(docker.io docker-registry debootstrap git chromium chromium-driver
              iproute2 ca-certificates curl openssl python3-venv
              # the launcher store's tests run a private server (tests/harness/postgres.py)
              postgresql
              slurm-wlm munge charliecloud openssh-server)
  # This machine kind ships Node.js and npm; Debian's npm conflicts with them.
  command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
  local missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

buildx_plugin() {
  # Debian 12 has no buildx; repo2docker needs it. Debian 13's docker-buildx
  # package only depends on libc6 >= 2.34, so take that .deb without adding
  # trixie to the system's apt sources.
  if docker buildx version >/dev/null 2>&1; then return; fi
  local aptx="$STATE/aptx"
  mkdir -p "$aptx/lists/partial" "$aptx/cache/archives/partial"
  printf 'deb %s trixie main\n' "$DEBIAN_MIRROR" > "$aptx/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$aptx/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$aptx/lists" -o "Dir::Cache=$aptx/cache")
  apt-get "${opts[@]}" update -qq
  (cd "$aptx" && apt-get "${opts[@]}" download docker-buildx >/dev/null)
  dpkg -i "$aptx"/docker-buildx_*.deb >/dev/null
  docker buildx version
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return; fi
  log "starting dockerd"
  # A daemon killed with its session leaves pid files behind; a live pid is left alone.
  local pidfile
  for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
      rm -f "$pidfile"
    fi
  done
  # No systemd here: run the daemon as a plain background process.
  nohup dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  echo "error: dockerd did not answer within 60 s; see $STATE/dockerd.log" >&2
  tail -n 20 "$STATE/dockerd.log" >&2
  exit 1
}

node_proxy() {
  if command -v configurable-http-proxy >/dev/null 2>&1; then return; fi
  log "npm install -g configurable-http-proxy@5"
  npm install -g --silent configurable-http-proxy@5 >/dev/null
}

oidc_provider() {
  # The local OpenID Provider of `stack --oidc` and the tests: node's oidc-provider,
  # pinned by the committed package-lock.json.
  local dir="$ROOT/launcher/oidc_provider"
  local stamp="$dir/node_modules/.installed-$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
  if [ -e "$stamp" ]; then return; fi
  log "npm ci (launcher/oidc_provider)"
  (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
  touch "$stamp"
}

python_venv() {
  local py=python3
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    log "creating .venv"
    "$py" -m venv "$ROOT/.venv"
  fi
  local stamp="$ROOT/.venv/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    log "pip install -e .[test,docs]"
    "$ROOT/.venv/bin/pip" install -q --upgrade pip >/dev/null
    if ! "$ROOT/.venv/bin/pip" install -q -e "$ROOT[test,docs]" >"$STATE/pip.log" 2>&1; then
      grep -v -E "^WARNING: Location" "$STATE/pip.log" | tail -n 40 >&2
      echo "error: pip install failed (full log: $STATE/pip.log)" >&2
      exit 1
    fi
    rm -f "$ROOT"/.venv/.installed-*
    touch "$stamp"
  fi
}

debian_image() {
  if docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then return; fi
  log "debootstrap bookworm (one-off)"
  local root="$STATE/rootfs"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$STATE/debootstrap.log" 2>&1 || {
    tail -n 30 "$STATE/debootstrap.log" >&2; exit 1; }
  tar -C "$root" -c . | docker import - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$root"
}

jupyter_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  log "building $BASE_IMAGE (one-off)"
  local ctx="$STATE/jupyter-base"
  rm -rf "$ctx"
  cp -r "$ROOT/scripts/images/jupyter-base" "$ctx"
  # pip inside the build reaches PyPI only with the host's CA bundle.
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca.crt"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "JUPYTERHUB_VERSION=$JUPYTERHUB_VERSION" \
    -t "$BASE_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
}

registry_seed() {
  # The base image in a registry storage that every new `nfdi-launcher stack` links into its
  # own registry, so that no first launch pushes it (launcher/cli/stack_seed.py). One-off.
  "$ROOT/.venv/bin/python" -m launcher.cli.stack_seed --storage "$STATE/registry-seed" "$BASE_IMAGE"
}

dev_null() {
  # Seen on this machine kind: /dev/null replaced by a regular file, which breaks git
  # (and so ch-image) for unprivileged users. Put the device back.
  if [ ! -c /dev/null ]; then
    log "repairing /dev/null (was not a character device)"
    rm -f /dev/null
    mknod -m 666 /dev/null c 1 3
  fi
}

hpc_accounts() {
  # nfdi-hpc runs the Slurm jobs of the one-machine stack (a real site maps users to
  # their own accounts); nfdi-tunnel is the login of the hub's forwarding-only SSH key.
  if ! getent passwd nfdi-hpc >/dev/null; then
    useradd --system --create-home --home-dir "$STATE/hpc-home" --shell /bin/bash nfdi-hpc
  fi
  if ! getent passwd nfdi-tunnel >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nfdi-tunnel
  fi
  # "*": no password, but not locked (sshd refuses locked accounts even for keys).
  if [ "$(getent shadow nfdi-tunnel | cut -d: -f2)" != "*" ]; then
    usermod -p '*' nfdi-tunnel
  fi
  mkdir -p /run/sshd  # sshd's privilege separation directory
}

slurm_cluster() {
  bash "$ROOT/scripts/slurm-cluster.sh" start "$STATE/slurm" nfdi >/dev/null
}

hpc_storage() {
  # Charliecloud's image storage and the root of the per-(hub, user) directories,
  # both written by the job account only.
  local d
  # ch-image creates its storage ($STATE/charliecloud/storage) itself on the first pull.
  for d in "$STATE/charliecloud" "$STATE/hpc-users"; do
    mkdir -p "$d"
    chown nfdi-hpc: "$d"
    chmod 0700 "$d"
  done
  chmod 0755 "$STATE"
}

tls_ca() {
  # A local CA and a certificate for 127.0.0.1/localhost (any port): the registry's
  # second, TLS endpoint uses it and ch-image trusts the CA (REQUESTS_CA_BUNDLE).
  local t="$STATE/tls"
  mkdir -p "$t"
  chmod 0755 "$t"
  if [ ! -s "$t/ca.crt" ] || [ ! -s "$t/ca.key" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=nfdi-launcher local CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null
    rm -f "$t/registry.crt"
  fi
  if [ ! -s "$t/registry.crt" ] || ! openssl x509 -checkend 86400 -noout -in "$t/registry.crt" >/dev/null; then
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
      -keyout "$t/registry.key" -out "$t/registry.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$t/registry.ext"
    openssl x509 -req -in "$t/registry.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
      -days 825 -extfile "$t/registry.ext" -out "$t/registry.crt" 2>/dev/null
    rm -f "$t/registry.csr" "$t/registry.ext"
  fi
  chmod 0600 "$t/ca.key" "$t/registry.key"
  chmod 0644 "$t/ca.crt" "$t/registry.crt"
}

need_root
t_all=$SECONDS
timed apt_packages
timed start_dockerd
timed buildx_plugin
timed node_proxy
timed oidc_provider
timed python_venv
timed debian_image
timed jupyter_base_image
timed registry_seed
timed dev_null
timed hpc_accounts
timed tls_ca
timed hpc_storage
timed slurm_cluster
log "setup done in $((SECONDS - t_all)) s"
