#!/usr/bin/env bash
# Starts a local Gatehouse test cluster in the background (etcd,
# kube-apiserver, kube-controller-manager, Gateway API CRDs, pod simulator)
# and prints `export KUBECONFIG=...` on stdout, everything else on stderr:
#
#   eval "$(hack/cluster/up.sh)"      # then kubectl/go test against it
#   hack/cluster/down.sh
#
# Needs root. Env:
#   GATEHOUSE_CACHE         binary cache (default $HOME/.cache/gatehouse)
#   GATEHOUSE_CLUSTER_DIR   cluster directory (default /tmp/gatehouse-cluster)
#   GATEHOUSE_CHANNEL       Gateway API CRD channel: standard (default) | experimental
#   GATEHOUSE_CRD_DIRS      extra manifest directories, colon separated
#   GATEHOUSE_IMAGES        extra image mappings, comma separated REPO=BINARY
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
dir="${GATEHOUSE_CLUSTER_DIR:-/tmp/gatehouse-cluster}"
marker="$dir/.gatehouse-cluster"

if [[ $(id -u) -ne 0 ]]; then
	echo "up.sh: needs root (network namespaces, bridge)" >&2
	exit 1
fi
if [[ -f "$dir/cluster.pid" ]] && kill -0 "$(cat "$dir/cluster.pid")" 2>/dev/null && [[ -f "$dir/ready" ]]; then
	echo "up.sh: cluster already running (pid $(cat "$dir/cluster.pid"))" >&2
	echo "export KUBECONFIG=$dir/kubeconfig"
	exit 0
fi

"$here/build.sh" >&2
(cd "$repo" && go build -o "$cache/bin/gatehouse-cluster" ./test/cluster/cmd/cluster) >&2

if [[ -e "$dir" && ! -f "$marker" ]]; then
	echo "up.sh: $dir exists and is not a cluster directory; refusing to reuse it" >&2
	exit 1
fi
rm -rf "$dir"
mkdir -p "$dir"
touch "$marker"

args=(-dir "$dir" -channel "${GATEHOUSE_CHANNEL:-standard}")
IFS=: read -r -a crd_dirs <<<"${GATEHOUSE_CRD_DIRS:-}"
for d in "${crd_dirs[@]}"; do
	[[ -n "$d" ]] && args+=(-crd-dir "$d")
done
IFS=, read -r -a images <<<"${GATEHOUSE_IMAGES:-}"
for m in "${images[@]}"; do
	[[ -n "$m" ]] && args+=(-image "$m")
done

start=$SECONDS
nohup "$cache/bin/gatehouse-cluster" "${args[@]}" >"$dir/cluster.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$dir/cluster.pid"
until [[ -f "$dir/ready" ]]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "up.sh: cluster exited during start; last log lines:" >&2
		tail -n 30 "$dir/cluster.log" >&2
		exit 1
	fi
	if ((SECONDS - start > 180)); then
		echo "up.sh: cluster not ready after 180s; see $dir/cluster.log (stop with hack/cluster/down.sh)" >&2
		exit 1
	fi
	sleep 0.2
done
echo "up.sh: cluster ready in $((SECONDS - start))s (pid $pid, logs in $dir/logs, $dir/cluster.log)" >&2
echo "export KUBECONFIG=$dir/kubeconfig"
