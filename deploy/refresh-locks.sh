#!/usr/bin/env bash
# Re-pin what the image installs, every file checked by its hash (needs uv: `pip install uv`).
#   requirements.lock        the runtime dependencies, from pyproject.toml's ranges
#   requirements-build.lock  pip and setuptools, which build the wheel inside the image
#
#   deploy/refresh-locks.sh            after changing pyproject.toml: other pins are kept
#   deploy/refresh-locks.sh --upgrade  take the newest releases the ranges allow
#
# Then run the tests and deploy/check-image.sh, and commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
  --custom-compile-command deploy/refresh-locks.sh "$@" -o requirements.lock
printf 'pip>=24\nsetuptools>=77\n' | uv pip compile - --universal --python-version 3.11 \
  --generate-hashes --custom-compile-command deploy/refresh-locks.sh "$@" \
  -o requirements-build.lock
