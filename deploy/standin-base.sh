#!/usr/bin/env bash
# Make a stand-in for python:3.11-slim from Debian's own packages, for machines that reach
# Debian's package mirror but no container registry. Prints the image reference on stdout;
# everything else goes to stderr.
#
#   deploy/standin-base.sh podman|docker
#
# Debian bookworm ships Python 3.11, the version the official image carries. The stand-in
# mimics that image where the Dockerfile relies on it: `python3 -m venv` works, `python`,
# `pip` and `useradd` exist, pip may install into the system Python, no package caches.
#
# Built once and kept: as a tagged image in the engine's storage and as a root file system
# tarball under $SMTPCHECK_CACHE (default /var/cache/smtpcheck), both named by a hash of the
# recipe below, so a change to the recipe builds a new one and an unchanged one is reused.
set -euo pipefail

engine=${1:?usage: standin-base.sh podman|docker}
suite=bookworm
packages=python3,python3-pip,python3-venv,python-is-python3,ca-certificates
cache=${SMTPCHECK_CACHE:-/var/cache/smtpcheck}

# The mirror apt already uses (Debian's), else Debian's default.
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/* *$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}

recipe="suite=$suite packages=$packages trim=v1"
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
image=localhost/smtpcheck-standin-python:3.11-$suite-$key
tarball=$cache/standin-python-3.11-$suite-$key.tar

say() { echo "standin-base: $*" >&2; }

if "$engine" image inspect "$image" >/dev/null 2>&1; then
  say "reusing the stand-in $image (Debian $suite packages, built earlier)"
  echo "$image"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/standin.lock"
flock 9 # one build at a time; a second run waits and then finds the tarball

if [[ ! -s $tarball ]]; then
  command -v debootstrap >/dev/null || {
    say "debootstrap is missing (apt-get install debootstrap)"
    exit 1
  }
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  say "no registry image to start from: building a stand-in for python:3.11-slim with debootstrap ($suite, $packages) from $mirror"
  start=$SECONDS
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 || {
    tail -n 20 "$cache/debootstrap.log" >&2
    say "debootstrap failed (full log: $cache/debootstrap.log)"
    exit 1
  }
  # Like python:3.11-slim: pip may install into the system Python, and no caches or docs.
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/tmp/*
  find "$root" -name __pycache__ -prune -exec rm -rf {} +
  tar --numeric-owner --xattrs -C "$root" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$root"
  trap - EXIT
  say "debootstrap took $((SECONDS - start)) s; root file system kept in $tarball"
else
  say "importing the stand-in from $tarball (Debian $suite packages, built earlier)"
fi

quiet=()
[[ $engine == podman ]] && quiet=(--quiet)
"$engine" import "${quiet[@]}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  "$tarball" "$image" >/dev/null
say "stand-in image $image ready"
echo "$image"
