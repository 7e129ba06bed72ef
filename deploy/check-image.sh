#!/usr/bin/env bash
# Build the image from this checkout and start it as it is deployed, with no network at all:
# /healthz answers 200 from inside, the HEALTHCHECK passes, `smtpcheck --help` runs, the
# process is uid/gid 10001 and imports the installed package, a root-owned /data gets a
# clear message, and the image size is printed.
#
#   deploy/check-image.sh
#
# Uses podman (preferred) or docker, whichever can run a container here; as root on a
# Debian machine with neither, it installs podman from Debian's packages. Where no engine
# can run containers it says so and exits 0 (skipped). Where no registry is reachable, the
# base image is a stand-in for python:3.11-slim built from Debian packages
# (deploy/standin-base.sh); the output says so.
#
# Environment: SMTPCHECK_ENGINE=podman|docker picks the engine; SMTPCHECK_BASE_IMAGE uses
# that base image instead of python:3.11-slim or the stand-in.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
say() { echo "check-image: $*"; }
ok() {
  passed=$((passed + 1))
  say "ok: $*"
}
bad() {
  failed=$((failed + 1))
  say "FAILED: $*"
}
skip() {
  say "SKIPPED: $*"
  exit 0
}
# podman logs an error for every healthcheck timer it cannot hand to systemd (none runs here).
quiet() { grep -v 'unable to get systemd connection\|Removing timer for container' >&2 || true; }

logs=$(mktemp -d /tmp/smtpcheck-image-check.XXXXXX)
tag=localhost/smtpcheck:check-$$
name=smtpcheck-check-$$
engine=()
run_opts=()

cleanup() {
  if ((${#engine[@]})); then
    local container
    for container in "$name" "$name-socket"; do # one at a time: a missing one stops podman rm
      "${engine[@]}" rm -f -v "$container" >/dev/null 2>&1 || true
    done
    "${engine[@]}" rmi "$tag" >/dev/null 2>&1 || true
    # Every changed checkout leaves a ~130 MB layer behind; keep three days of build cache.
    "${engine[@]}" image prune -f --filter until=72h >/dev/null 2>&1 || true
  fi
  rm -rf "$logs"
}
trap cleanup EXIT

# ---- an engine that answers ---------------------------------------------------------------

usable() { command -v "$1" >/dev/null 2>&1 && "$1" info >/dev/null 2>&1; }

pick_engine() {
  local candidates=(podman docker)
  [[ -n ${SMTPCHECK_ENGINE:-} ]] && candidates=("$SMTPCHECK_ENGINE")
  for candidate in "${candidates[@]}"; do
    if usable "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

engine_report() {
  local report=() candidate
  for candidate in podman docker; do
    if ! command -v "$candidate" >/dev/null 2>&1; then
      report+=("$candidate is not installed")
    elif ! "$candidate" info >/dev/null 2>&1; then
      report+=("'$candidate info' fails$([[ $candidate == docker ]] && echo ' (no daemon answers)')")
    else
      report+=("$candidate answers but SMTPCHECK_ENGINE=${SMTPCHECK_ENGINE:-} chose otherwise")
    fi
  done
  printf '%s; ' "${report[@]:0:${#report[@]}-1}"
  echo "${report[-1]}"
}

if ! kind=$(pick_engine); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null && [[ -z ${SMTPCHECK_ENGINE:-} || ${SMTPCHECK_ENGINE:-} == podman ]]; then
    say "no container engine answers; installing podman, runc and debootstrap from Debian's packages"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap; } >"$logs/apt.log" 2>&1; then
      tail -n 5 "$logs/apt.log"
      skip "podman could not be installed (apt-get failed), and docker has no daemon here"
    fi
  fi
  kind=$(pick_engine) || skip "no container engine can run containers here: $(engine_report)"
fi
engine=("$kind")
say "engine: $kind ($("$kind" --version))"

# ---- the base image -------------------------------------------------------------------------

if [[ -n ${SMTPCHECK_BASE_IMAGE:-} ]]; then
  base=$SMTPCHECK_BASE_IMAGE
  say "base image: $base (SMTPCHECK_BASE_IMAGE)"
elif "$kind" image inspect docker.io/library/python:3.11-slim >/dev/null 2>&1; then
  base=docker.io/library/python:3.11-slim
  say "base image: $base (already present)"
else
  # No registry is asked: the one this checkout needs is built from Debian's packages.
  base=$(deploy/standin-base.sh "$kind" 2> >(sed 's/^/check-image: /' >&2))
  say "base image: $base, a STAND-IN for python:3.11-slim built with debootstrap from Debian packages (no container registry is reachable from here)"
fi

# ---- how containers start on this machine ------------------------------------------------------
# Inside some sandboxes the defaults fail: crun refuses hybrid cgroups, and the default
# rlimits (nofile 1048576) are above what the sandbox lets a container set. Try the defaults
# first, then runc with modest rlimits.

starts() { "$@" run --rm --network none "${run_opts[@]}" "$base" true >>"$logs/probe.log" 2>&1; }
if [[ $kind == podman ]]; then
  attempts=("" "--runtime runc|--ulimit nofile=8192:8192 --ulimit nproc=4096:4096")
  found=
  for attempt in "${attempts[@]}"; do
    global=${attempt%%|*}
    local_opts=${attempt#*|}
    [[ $attempt == *"|"* ]] || local_opts=
    read -r -a global_args <<<"$global"
    read -r -a run_opts <<<"$local_opts"
    if starts podman "${global_args[@]}"; then
      engine=(podman "${global_args[@]}")
      found=yes
      break
    fi
  done
  [[ -n $found ]] || {
    tail -n 6 "$logs/probe.log"
    skip "podman is installed but cannot start a container here (tried crun and runc)"
  }
  say "containers start with: ${engine[*]} run ${run_opts[*]}"
else
  starts docker || {
    tail -n 6 "$logs/probe.log"
    skip "docker cannot start a container here"
  }
fi

# ---- build ------------------------------------------------------------------------------------

build_args=(--build-arg "PYTHON_IMAGE=$base" -t "$tag")
if [[ $kind == podman ]]; then
  # Docker format: podman's default OCI format would drop the HEALTHCHECK.
  build_args+=(--format docker "${run_opts[@]}")
  # A machine whose TLS to PyPI goes through its own CA: pip in the build trusts it too.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null && [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
    build_args+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
    say "the build trusts this machine's CA bundle (it has local CAs)"
  fi
fi
say "building the image (pip installs the locked packages from PyPI inside the build)"
start=$SECONDS
if ! timeout 1500 "${engine[@]}" build "${build_args[@]}" . >"$logs/build.log" 2>&1; then
  tail -n 30 "$logs/build.log"
  bad "the image does not build"
  say "$passed passed, $failed failed"
  exit 1
fi
ok "built $tag in $((SECONDS - start)) s"

# ---- start it with no network ----------------------------------------------------------------

in_box() { timeout 60 "${engine[@]}" exec "$name" "$@"; } # $name: which container
http_status() {
  in_box python -c "import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen('http://127.0.0.1:3000$1', timeout=4).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print('down')" 2>/dev/null || echo down
}
slack_env=(-e SLACK_BOT_TOKEN=xoxb-0-image-check -e SLACK_SIGNING_SECRET=image-check-secret
  -e SLACK_API_URL=http://127.0.0.1:9/api/)

"${engine[@]}" run -d --name "$name" --network none --read-only --tmpfs /tmp \
  --cap-drop ALL --security-opt no-new-privileges "${run_opts[@]}" "${slack_env[@]}" \
  "$tag" >/dev/null 2> >(quiet)

status=down
for _ in $(seq 1 60); do
  status=$(http_status /healthz)
  [[ $status == 200 ]] && break
  [[ $("${engine[@]}" inspect --format '{{.State.Running}}' "$name") == true ]] || break
  sleep 1
done
if [[ $status == 200 ]]; then
  ok "GET /healthz from inside the container: 200 (HTTP mode, read-only root, no capabilities)"
else
  bad "GET /healthz from inside the container: $status"
  "${engine[@]}" logs "$name" 2>&1 | tail -n 20
fi

interfaces=$(in_box sh -c 'ls /sys/class/net' | tr '\n' ' ')
if [[ $interfaces == "lo " ]]; then
  ok "no network: the only interface is lo"
else
  bad "network interfaces: $interfaces"
fi

ids=$(in_box sh -c "grep -E '^(Uid|Gid):' /proc/1/status" | awk '{print $2 $3 $4 $5}' | tr '\n' ' ')
if [[ $ids == "10001100011000110001 10001100011000110001 " ]]; then
  ok "the bot (pid 1) runs as uid 10001, gid 10001"
else
  bad "the bot's ids (real, effective, saved, fs): $ids"
fi

where=$(in_box sh -c 'pwd; python -c "import bot, handlers; print(bot.__file__); print(handlers.__file__)"' | tr '\n' ' ')
if [[ $where == "/data /opt/smtpcheck/lib/"*"/site-packages/bot/__init__.py /opt/smtpcheck/lib/"*"/site-packages/handlers/__init__.py " ]]; then
  ok "runs from /data and imports the installed package"
else
  bad "working directory and imports: $where"
fi

if in_box sh -c 'test ! -e /src && test ! -e /app && test ! -e /opt/build && test -w /data'; then
  ok "no source tree or build tools in the image; /data writable"
else
  bad "the image carries /src, /app or /opt/build, or /data is not writable"
fi

if [[ $kind == podman ]]; then
  if [[ $("${engine[@]}" image inspect --format '{{.HealthCheck}}' "$tag") == *"/healthz"* ]] &&
    "${engine[@]}" healthcheck run "$name" >/dev/null 2> >(quiet); then
    ok "the image's HEALTHCHECK passes"
  else
    bad "the image's HEALTHCHECK is missing or fails"
  fi
else
  health=
  for _ in $(seq 1 40); do
    health=$(docker inspect --format '{{.State.Health.Status}}' "$name")
    [[ $health == healthy ]] && break
    sleep 1
  done
  if [[ $health == healthy ]]; then ok "the image's HEALTHCHECK passes"; else bad "HEALTHCHECK: $health"; fi
fi

help=$(timeout 60 "${engine[@]}" run --rm --network none "${run_opts[@]}" "$tag" smtpcheck --help 2> >(quiet)) || true
if [[ $help == *Usage* ]]; then ok "smtpcheck --help"; else bad "smtpcheck --help: $help"; fi

if timeout 30 "${engine[@]}" stop -t 20 "$name" >/dev/null 2> >(quiet); then
  code=$("${engine[@]}" inspect --format '{{.State.ExitCode}}' "$name")
  if [[ $code == 0 ]]; then ok "stops cleanly on SIGTERM (exit 0)"; else bad "exit code after SIGTERM: $code"; fi
else
  bad "did not stop within 20 s of SIGTERM"
fi

# ---- Socket Mode: the health check follows the Slack connection ----------------------------------
# With no network Slack is out of reach, so a correct check says "unhealthy" (503), not "alive".

"${engine[@]}" run -d --name "$name-socket" --network none --read-only --tmpfs /tmp \
  --cap-drop ALL --security-opt no-new-privileges "${run_opts[@]}" "${slack_env[@]}" \
  -e SLACK_APP_TOKEN=xapp-0-image-check "$tag" >/dev/null 2> >(quiet)
status=down
for _ in $(seq 1 30); do
  status=$(name=$name-socket http_status /healthz)
  [[ $status == down ]] || break
  sleep 1
done
if [[ $status == 503 ]]; then
  ok "Socket Mode without Slack: /healthz 503 (not connected)"
else
  bad "Socket Mode without Slack: /healthz $status (wanted 503)"
fi
if [[ $kind == podman ]]; then
  if "${engine[@]}" healthcheck run "$name-socket" >/dev/null 2> >(quiet); then
    bad "Socket Mode without Slack: the HEALTHCHECK passes, it should fail"
  else
    ok "Socket Mode without Slack: the HEALTHCHECK fails, as it should"
  fi
fi
if timeout 30 "${engine[@]}" stop -t 20 "$name-socket" >/dev/null 2> >(quiet) &&
  [[ $("${engine[@]}" inspect --format '{{.State.ExitCode}}' "$name-socket") == 0 ]]; then
  ok "Socket Mode stops cleanly on SIGTERM (exit 0)"
else
  bad "Socket Mode did not stop cleanly within 20 s of SIGTERM"
fi

# ---- a root-owned host directory on /data ---------------------------------------------------------

host_dir=$logs/root-owned-data
mkdir -m 0755 "$host_dir"
if [[ $(id -u) == 0 ]]; then
  set +e
  message=$(timeout 60 "${engine[@]}" run --rm --network none "${run_opts[@]}" "${slack_env[@]}" \
    -v "$host_dir:/data" "$tag" 2>&1 | grep -v 'systemd connection\|Removing timer')
  code=${PIPESTATUS[0]}
  set -e
  if [[ $code == 2 && $message == *"chown 10001:10001"* && $message != *"unable to open database file"* ]]; then
    ok "a root-owned bind mount on /data is explained (exit 2): ${message:0:110}..."
  else
    bad "root-owned /data: exit $code: $message"
  fi
fi

size=$("${engine[@]}" image inspect --format '{{.Size}}' "$tag")
base_size=$("${engine[@]}" image inspect --format '{{.Size}}' "$base")
say "image size: $((size / 1000000)) MB ($((base_size / 1000000)) MB of it the base image $base)"

say "$passed passed, $failed failed"
((failed == 0))
