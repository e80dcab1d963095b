#!/usr/bin/env bash
# Stops the cluster started by up.sh: SIGTERM to its PID makes it kill its
# control-plane and pod processes, delete the pod network namespaces and the
# bridge; then the cluster directory is removed.
#
# Env: GATEHOUSE_CLUSTER_DIR (default /tmp/gatehouse-cluster),
#      GATEHOUSE_CLUSTER_KEEP=1 keeps the directory (logs) after stopping.
set -euo pipefail

dir="${GATEHOUSE_CLUSTER_DIR:-/tmp/gatehouse-cluster}"
if [[ ! -f "$dir/.gatehouse-cluster" ]]; then
	echo "down.sh: no cluster directory at $dir" >&2
	exit 0
fi
if [[ -f "$dir/cluster.pid" ]]; then
	pid="$(cat "$dir/cluster.pid")"
	# Only signal the process if it still is the cluster we started.
	if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q gatehouse-cluster; then
		kill -TERM "$pid"
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "down.sh: pid $pid did not stop in 30s; sending SIGKILL" >&2
			kill -KILL "$pid"
		fi
	fi
fi
if [[ "${GATEHOUSE_CLUSTER_KEEP:-}" == 1 ]]; then
	echo "down.sh: stopped; kept $dir" >&2
else
	rm -rf "$dir"
	echo "down.sh: stopped" >&2
fi
