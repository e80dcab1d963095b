#!/usr/bin/env bash
# Runs the quickstart: the demo upstream (gatehouse echo on 127.0.0.1:9090)
# and the gateway on examples/quickstart (127.0.0.1:8080, admin :15000).
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bin/gatehouse echo --listen 127.0.0.1:9090 --name quickstart-echo &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
echo "gateway: curl -i http://127.0.0.1:8080/echo/hello   admin: http://127.0.0.1:15000/config_dump" >&2
bin/gatehouse run --config examples/quickstart "$@"
