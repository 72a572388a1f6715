#!/usr/bin/env bash
# Installs the system packages the test suite and benchmarks use (Debian/Ubuntu, as root):
# Chromium for browser tests, wrk for load, poppler-utils for PDF checks, ClickHouse server.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${need[*]} (install them, e.g. apt-get install ${need[*]})" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
