#!/usr/bin/env bash
# Builds the binaries the local cluster harness runs: etcd, kube-apiserver,
# kube-controller-manager and the Gateway API conformance echo-basic backend.
# Each is built from its own wrapper module under hack/cluster/ so that none of
# them enters the gatehouse module graph. A binary is rebuilt only when its
# version stamp (<bin>/.<name>.version) does not match.
#
#   hack/cluster/build.sh            # all
#   hack/cluster/build.sh etcd echo-basic
#
# Env: GATEHOUSE_CACHE (default $HOME/.cache/gatehouse); binaries go to
# $GATEHOUSE_CACHE/bin. GO (default go).
set -euo pipefail

ETCD_VERSION=v3.6.16
KUBE_VERSION=v1.36.3
GATEWAY_API_VERSION=v1.6.3

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
bin="$cache/bin"
GO="${GO:-go}"
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
mkdir -p "$bin"

log() { printf '[build] %s\n' "$*" >&2; }

# fresh NAME VERSION: true when $bin/NAME exists with the matching stamp.
fresh() {
	[[ -x "$bin/$1" && -f "$bin/.$1.version" && "$(cat "$bin/.$1.version")" == "$2" ]]
}

stamp() { printf '%s\n' "$2" >"$bin/.$1.version"; }

timed() {
	local start=$SECONDS
	"$@"
	log "done in $((SECONDS - start))s"
}

build_etcd() {
	fresh etcd "$ETCD_VERSION" && { log "etcd $ETCD_VERSION cached"; return; }
	log "building etcd $ETCD_VERSION"
	(cd "$here/etcd-build" && timed "$GO" build -trimpath -ldflags='-s -w' -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
	mv "$bin/etcd.tmp" "$bin/etcd"
	stamp etcd "$ETCD_VERSION"
}

build_kube() {
	if fresh kube-apiserver "$KUBE_VERSION" && fresh kube-controller-manager "$KUBE_VERSION"; then
		log "kube-apiserver/kube-controller-manager $KUBE_VERSION cached"
		return
	fi
	local minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	local ldf="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
	ldf+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	ldf+=" -X k8s.io/component-base/version.gitTreeState=clean"
	local out="$bin/.kube-build.tmp"
	rm -rf "$out" && mkdir -p "$out"
	log "building kube-apiserver + kube-controller-manager $KUBE_VERSION (~10 min cold on 2 cores)"
	# One `go build` for both shares the compile of the common dependency tree.
	(cd "$here/kube-build" && timed "$GO" build -trimpath -ldflags "$ldf" -o "$out/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
	for b in kube-apiserver kube-controller-manager; do
		mv "$out/$b" "$bin/$b"
		stamp "$b" "$KUBE_VERSION"
	done
	rmdir "$out"
}

build_echo() {
	fresh echo-basic "$GATEWAY_API_VERSION" && { log "echo-basic $GATEWAY_API_VERSION cached"; return; }
	log "building echo-basic from sigs.k8s.io/gateway-api/conformance $GATEWAY_API_VERSION"
	(cd "$here/echo-build" && timed "$GO" build -trimpath -ldflags='-s -w' -o "$bin/echo-basic.tmp" \
		sigs.k8s.io/gateway-api/conformance/echo-basic)
	mv "$bin/echo-basic.tmp" "$bin/echo-basic"
	stamp echo-basic "$GATEWAY_API_VERSION"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd echo-basic kube)
for t in "${targets[@]}"; do
	case "$t" in
	etcd) build_etcd ;;
	echo-basic | echo) build_echo ;;
	kube | kube-apiserver | kube-controller-manager) build_kube ;;
	*) log "unknown target $t (etcd, echo-basic, kube)"; exit 2 ;;
	esac
done
log "binaries in $bin"
