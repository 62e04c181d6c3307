#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine: Debian packages (as root), the npm dependencies, then the
# build (`npm run build`: the CLI into dist/cli, the job server bundle into dist/runtime).
#   bash scripts/setup.sh           what `uws-cluster` needs to run (synth, render, serve, up --target local)
#   bash scripts/setup.sh --test    also what the test suite needs (nginx, cloud-init, xmllint, pyvo, systemd-analyze, OpenStack test cloud)
# Idempotent: installed packages are skipped. Daemons are never started by package installs
# (policy-rc.d): uws-cluster starts what it needs itself, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNTIME_PKGS=(slurmctld slurmd slurm-client munge openssh-server openssh-client iproute2 util-linux procps)
# python3-astropy, -matplotlib, -numpy: what examples/apps/vesta declares (its end-to-end test runs it on a local cluster).
# chromium: the portal tests drive it with playwright-core (no browser download); python3-astropy is also their SAMP hub.
TEST_PKGS=(nginx-light cloud-init libxml2-utils python3 python3-pyvo python3-prov python3-astropy python3-matplotlib python3-numpy openssl curl systemd chromium systemd-container mmdebstrap apt-cacher-ng iptables zstd xz-utils)
pkgs=("${RUNTIME_PKGS[@]}")
[[ "${1:-}" == "--test" ]] && pkgs+=("${TEST_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    apt-get update -qq -o DPkg::Lock::Timeout=300 && \
      apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" && break
    echo "setup: apt-get failed (attempt $attempt), retrying" >&2; sleep 5
  done
  ((created_policy)) && rm -f /usr/sbin/policy-rc.d
fi

if [[ "${1:-}" == "--test" && -x test/harness/openstack/oscloud.sh ]]; then
  bash test/harness/openstack/oscloud.sh install
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

npm run --silent build
