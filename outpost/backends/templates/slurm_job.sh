#!/bin/bash
#SBATCH --job-name={{ job_name }}
#SBATCH --output={{ log_file }}
#SBATCH --chdir={{ user_dir }}
#SBATCH --export={{ keepvars }}
#SBATCH --nodes=1
#SBATCH --ntasks=1
{% if partition %}#SBATCH --partition={{ partition }}
{% endif %}{% if runtime %}#SBATCH --time={{ runtime }}
{% endif %}{% if nprocs %}#SBATCH --cpus-per-task={{ nprocs }}
{% endif %}{% if memory %}#SBATCH --mem={{ memory }}
{% endif %}{% if gres %}#SBATCH --gres={{ gres }}
{% endif %}{% if account %}#SBATCH --account={{ account }}
{% endif %}{% if reservation %}#SBATCH --reservation={{ reservation }}
{% endif %}{% if options %}#SBATCH {{ options }}
{% endif %}
# Job script of the nfdi-launcher Outpost (Slurm backend): pull the image with
# Charliecloud (once per digest), run jupyterhub-singleuser in it with the user's
# persistent directory at {{ mount_path }}, and tell the Outpost through the job's
# comment where the server listens. Operators replace it with c.SlurmBackend.batch_script;
# the values in it have been checked by the Outpost and are quoted for the shell.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export USER="$(id -un)" LANG=C.UTF-8
export HOME="${HOME:-$(getent passwd "$USER" | cut -d: -f6)}"
# ch-image is a Debian python3 script: keep other pythons (pyenv, venvs) out of its way.
CH_PATH=/usr/sbin:/usr/bin:/sbin:/bin

image={{ image | q }}
storage={{ storage | q }}
work={{ work_dir | q }}
ip={{ server_ip | q }}
host={{ service_host | q }}
[ -n "$host" ] || host="$(hostname -f)"
scratch=""

phase() {
  echo "$(date +%T.%3N) phase: $1"
  scontrol update jobid="$SLURM_JOB_ID" comment="nfdi:$1" >/dev/null 2>&1 \
    || echo "note: could not publish the phase $1 in the job comment"
}
fail() {
  local why="$*"
  echo "error: $why" >&2
  phase "failed=${why:0:300}"
  exit 3
}
server=""
cleanup() {
  [ -z "$server" ] || kill -TERM "$server" 2>/dev/null
  [ -z "$server" ] || wait "$server" 2>/dev/null
  [ -z "$scratch" ] || rm -rf -- "$scratch"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# mktemp, not the job id alone: ids restart with a fresh slurmctld state, and a job killed by
# the node (SIGKILL) leaves its directory behind.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/nfdi-job-$SLURM_JOB_ID.XXXXXX")" \
  || fail "cannot create the job's scratch directory in ${TMPDIR:-/tmp}"

# -- 1. the image, in the site's Charliecloud storage ----------------------------------
dir="$storage/img/$(printf '%s' "$image" | sed 's|:|+|g; s|/|%|g')"
pull() {
  env PATH="$CH_PATH" GIT_AUTHOR_NAME=nfdi-outpost GIT_AUTHOR_EMAIL=nfdi-outpost@localhost \
    GIT_COMMITTER_NAME=nfdi-outpost GIT_COMMITTER_EMAIL=nfdi-outpost@localhost \
    {% if ca_bundle %}REQUESTS_CA_BUNDLE={{ ca_bundle | q }} {% endif %}\
    timeout {{ pull_timeout }} ch-image -s "$storage" pull "$image"
}
if [ {{ pinned | q }} = yes ] && [ -d "$dir/home" ]; then
  echo "image $image is already in the storage"
else
  phase pull
  # One pull at a time per storage (ch-image refuses to share it). The lock is the
  # storage's parent directory: ch-image tolerates no foreign files in its storage and
  # wants to create the storage directory itself.
  exec 9<"$(dirname "$storage")" || fail "cannot open the parent of the image storage $storage"
  flock -w {{ pull_timeout }} 9 || fail "timed out waiting for another pull into $storage"
  pull > "$scratch/pull.log" 2>&1
  status=$?
  flock -u 9
  cat "$scratch/pull.log"
  why="$(grep -m1 '^error:' "$scratch/pull.log" | cut -c8-200)"
  rm -f -- "$scratch/pull.log"
  if [ "$status" != 0 ]; then
    [ "$status" != 124 ] || why="no answer within {{ pull_timeout }} s"
    if [ {{ pinned | q }} != yes ] && [ -d "$dir/home" ]; then
      echo "warning: pulling $image failed (${why:-exit $status}); using the copy in the storage"
    else
      fail "image pull failed: ${why:-ch-image exit $status}"
    fi
  fi
fi
[ -d "$dir/home" ] || fail "image $image has no /home after the pull"

# -- 2. an ephemeral, writable home with the image's content (the repository) ---------
phase start
mkdir -p "$scratch/home"
if [ -d "$dir"{{ home | q }} ]; then
  cp -a "$dir"{{ home | q }}/. "$scratch/home/" || fail "cannot copy the image's home"
fi
mkdir -p "$scratch/home"{{ mount_rel | q }}
[ -d "$work" ] || fail "persistent directory $work is missing"

probe="$ip"
[ "$probe" != 0.0.0.0 ] || probe=127.0.0.1
# A port the kernel calls free (a port that merely refuses connections may still be bound).
port="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')" \
  || fail "cannot find a free port on $(hostname)"
export JUPYTERHUB_SERVICE_URL="http://$ip:$port${JUPYTERHUB_SERVICE_PREFIX:-/}"
run=(ch-run --no-passwd --uid={{ uid }} --gid={{ gid }} --private-tmp --set-env
     --set-env=HOME={{ home | q }} -b "$scratch/home:"{{ home | q }} -b "$work:"{{ mount_path | q }}
     -c {{ notebook_dir | q }} "$dir" --)

# -- 3. the server; published once it listens ----------------------------------------
"${run[@]}" {{ cmd }} &
server=$!
listening=no
for _ in $(seq 1 {{ listen_timeout * 10 }}); do
  kill -0 "$server" 2>/dev/null \
    || fail "jupyterhub-singleuser exited before it listened (see the job log; does the image have it?)"
  if (exec 3<>"/dev/tcp/$probe/$port") 2>/dev/null; then
    listening=yes
    break
  fi
  sleep 0.1
done
[ "$listening" = yes ] \
  || fail "jupyterhub-singleuser did not listen on port $port within {{ listen_timeout }} s"
{% if tunnel %}
# -- 4. delayed tunnel: the hub forwards through the login node; asked before the
# address is published, so a refused tunnel fails the start instead of a ready server.
body="{\"service\": \"$host:$port\", \"ssh_node\": \"{{ ssh_node }}\"}"
code="$(printf 'header = "Authorization: token %s"\n' "$JUPYTERHUB_API_TOKEN" \
  | curl -sS -o /dev/null -w '%{http_code}' -K - --max-time 60 -X POST \
      -H 'Content-Type: application/json' --data "$body" "$JUPYTERHUB_SETUPTUNNEL_URL")"
[ "$code" = 204 ] || fail "the hub could not set up the SSH tunnel (HTTP $code)"
{% endif %}
phase "addr=$host:$port"
wait "$server"
status=$?
server=""
echo "jupyterhub-singleuser ended (exit $status)"
exit "$status"
