#!/usr/bin/env bash
# Side-by-side data-plane benchmark (issue #8): Gatehouse, nginx, HAProxy,
# Caddy and Traefik in front of the same upstream, plus the no-proxy limit
# (the load generator straight to the upstream).
#
# Each proxy runs alone on CPU $PROXY_CPU (one worker / one thread /
# GOMAXPROCS=1, access logs off, keep-alive pool to the upstream); the load
# generator (wrk, h2load) and the upstream (one nginx worker answering a
# fixed 3-byte body) share CPU $LOAD_CPU. Everything listens on 127.0.0.1 on
# free ports. Proxies are interleaved within each round, and each cell's
# figure is the median over rounds.
#
# Scenarios: HTTP/1.1 GET at 1, 64 and 256 connections; 2 KiB POST bodies at
# 64 connections; TLS termination (HTTP/1.1 over TLS, 64 connections); HTTP/2
# over TLS (h2load, 16 connections x 10 streams). The upstream leg is
# HTTP/1.1 keep-alive for every proxy.
#
# Time: ROUNDS x targets x scenarios x (DURATION + 1 s warm-up) plus start-up;
# with the defaults (3 x 6 x 6 x 4 s) about 8 minutes, plus a one-time Traefik
# build (several minutes cold, then cached in $GATEHOUSE_CACHE/traefik).
#
# Needs root for apt-get when a tool is missing. Environment:
#   DURATION=3        seconds per cell
#   ROUNDS=3          interleaved rounds
#   PROXIES="gatehouse nginx haproxy caddy traefik"   (direct is always run;
#            gatehouse-cel20 is Gatehouse with a 20-expression TrafficPolicy)
#   SCENARIOS="h1-c1 h1-c64 h1-c256 post2k-c64 tls-h1-c64 h2-tls-c16x10"
#   OUT=test/bench/dataplane/results/<UTC stamp>     results.tsv (one row per
#                     cell and round), summary.md, raw/ (load generator
#                     output), proxy logs
#   GATEHOUSE_CACHE=~/.cache/gatehouse  TRAEFIK_VERSION=v3.6.12
#   PROXY_CPU=0 LOAD_CPU=1
#   GATEHOUSE_BIN=path   use this gatehouse binary instead of building one
#   PROFILE=1         also take a 10 s CPU profile of Gatehouse under
#                     h1-c64 load into $OUT/gatehouse.cpu.pprof
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export PATH=/usr/local/go/bin:$PATH

DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
PROXIES=${PROXIES:-"gatehouse nginx haproxy caddy traefik"}
SCENARIOS=${SCENARIOS:-"h1-c1 h1-c64 h1-c256 post2k-c64 tls-h1-c64 h2-tls-c16x10"}
CACHE=${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}
TRAEFIK_VERSION=${TRAEFIK_VERSION:-v3.6.12}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-$root/test/bench/dataplane/results/$(date -u +%Y%m%dT%H%M%SZ)}

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# --- tools -----------------------------------------------------------------

ensure_packages() {
	local missing=() pair
	for pair in nginx:nginx-light haproxy:haproxy caddy:caddy wrk:wrk h2load:nghttp2-client \
		openssl:openssl curl:curl taskset:util-linux; do
		command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
	done
	if ((${#missing[@]})); then
		log "installing ${missing[*]} (apt-get)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	# The Debian packages start system services; this benchmark runs its own.
	for svc in nginx haproxy caddy; do
		if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
			systemctl stop "$svc" || true
		fi
	done
}

# build_traefik builds Traefik from the Go module proxy into the cache, in a
# throwaway wrapper module that repeats the replace/exclude directives of
# Traefik's own go.mod (go install refuses modules that have them). Prints
# the binary path, or nothing when it does not build.
build_traefik() {
	local bin=$CACHE/traefik/traefik-$TRAEFIK_VERSION
	if [[ -x $bin ]]; then
		echo "$bin"
		return
	fi
	mkdir -p "$CACHE/traefik"
	local wrap
	wrap=$(mktemp -d /tmp/gatehouse-traefik-wrap.XXXXXX)
	cat >"$wrap/go.mod" <<EOF
module gatehouse.local/traefikwrap

go 1.25.0

require github.com/traefik/traefik/v3 $TRAEFIK_VERSION
EOF
	# Traefik's go.mod replaces/excludes; copy them from the downloaded module.
	local mod
	mod=$(cd "$wrap" && GOFLAGS=-mod=mod go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" |
		sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	if [[ -n $mod ]]; then
		awk '/^replace \(/,/^\)/' "$mod" >>"$wrap/go.mod"
		grep '^exclude ' "$mod" >>"$wrap/go.mod" || true
	fi
	log "building Traefik $TRAEFIK_VERSION (one-time, cached in $CACHE/traefik; log: $OUT/traefik-build.log)"
	if (cd "$wrap" && GOFLAGS=-mod=mod go build -o "$bin" github.com/traefik/traefik/v3/cmd/traefik) \
		>"$OUT/traefik-build.log" 2>&1; then
		echo "$bin"
	else
		log "Traefik $TRAEFIK_VERSION did not build (see $OUT/traefik-build.log); it is left out"
	fi
	rm -rf "$wrap"
}

# --- processes -------------------------------------------------------------

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# start NAME CPU CMD...: runs CMD in its own process group pinned to CPU and
# sets started_pid (which is also the group id).
started_pid=
start() {
	local name=$1 cpu=$2
	shift 2
	setsid taskset -c "$cpu" "$@" >"$OUT/$name.log" 2>&1 &
	started_pid=$!
	pids+=("$started_pid")
}

stop() {
	local pid=$1 i
	kill -- "-$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# wait_ready URL: until it answers 200 (10 s at most).
wait_ready() {
	local i
	for i in $(seq 100); do
		if [[ $(curl -sk -o /dev/null -w '%{http_code}' "$1") == 200 ]]; then
			return 0
		fi
		sleep 0.1
	done
	log "no 200 from $1 after 10 s"
	return 1
}

# cpu_ticks PGID: user+system clock ticks of every process in the group.
cpu_ticks() {
	local t=0 p v
	for p in $(pgrep -g "$1" 2>/dev/null || true); do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo "$t"
}

render() { # template -> file with @VARS@ filled in
	sed -e "s#@WORK@#$work#g" -e "s#@UP_HTTP@#$up_http#g" -e "s#@UP_TLS@#$up_tls#g" \
		-e "s#@PX_HTTP@#$px_http#g" -e "s#@PX_TLS@#$px_tls#g" \
		-e "s#@CERT_B64@#$cert_b64#g" -e "s#@KEY_B64@#$key_b64#g" "$1" >"$2"
}

# start_proxy NAME: starts it on PROXY_CPU; sets started_pid.
start_proxy() {
	case $1 in
	gatehouse | gatehouse-cel20)
		mkdir -p "$work/$1-config"
		render "$here/conf/gatehouse.yaml" "$work/$1-config/bench.yaml"
		[[ $1 == gatehouse ]] || render "$here/conf/$1.yaml" "$work/$1-config/policy.yaml"
		start "$1" "$PROXY_CPU" env GOMAXPROCS=1 "$work/gatehouse" run \
			--config "$work/$1-config" --admin "127.0.0.1:$admin_port" --log-level warn
		;;
	nginx)
		mkdir -p "$work/nginx-body" "$work/nginx-proxy"
		render "$here/conf/nginx.conf" "$work/nginx.conf"
		start nginx "$PROXY_CPU" nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;'
		;;
	haproxy)
		render "$here/conf/haproxy.cfg" "$work/haproxy.cfg"
		start haproxy "$PROXY_CPU" haproxy -db -f "$work/haproxy.cfg"
		;;
	caddy)
		render "$here/conf/Caddyfile" "$work/Caddyfile"
		start caddy "$PROXY_CPU" env GOMAXPROCS=1 XDG_DATA_HOME="$work/caddy-data" \
			XDG_CONFIG_HOME="$work/caddy-config" caddy run --config "$work/Caddyfile" --adapter caddyfile
		;;
	traefik)
		render "$here/conf/traefik.yaml" "$work/traefik.yaml"
		render "$here/conf/traefik-dynamic.yaml" "$work/traefik-dynamic.yaml"
		start traefik "$PROXY_CPU" env GOMAXPROCS=1 "$traefik_bin" --configFile="$work/traefik.yaml"
		;;
	*)
		log "unknown proxy $1"
		return 1
		;;
	esac
}

# --- load ------------------------------------------------------------------

# load SCENARIO HTTP_PORT TLS_PORT SECONDS RAWFILE: runs the load generator on
# LOAD_CPU; prints "req/s p50 p99 errors".
load() {
	local sc=$1 hp=$2 tp=$3 secs=$4 raw=$5
	local wrk=(taskset -c "$LOAD_CPU" wrk -t1 -d"${secs}s" --latency --timeout 5s)
	case $sc in
	h1-c1) "${wrk[@]}" -c1 "http://127.0.0.1:$hp/" >"$raw" ;;
	h1-c64) "${wrk[@]}" -c64 "http://127.0.0.1:$hp/" >"$raw" ;;
	h1-c256) "${wrk[@]}" -c256 "http://127.0.0.1:$hp/" >"$raw" ;;
	post2k-c64) "${wrk[@]}" -c64 -s "$here/conf/post.lua" "http://127.0.0.1:$hp/" >"$raw" ;;
	tls-h1-c64) "${wrk[@]}" -c64 "https://127.0.0.1:$tp/" >"$raw" ;;
	h2-tls-c16x10)
		taskset -c "$LOAD_CPU" h2load -t1 -c16 -m10 -D"$secs" --log-file="$raw.log" \
			"https://127.0.0.1:$tp/" >"$raw"
		"$dptool" h2load "$raw" "$raw.log"
		rm -f "$raw.log"
		return
		;;
	*)
		log "unknown scenario $sc"
		return 1
		;;
	esac
	"$dptool" wrk "$raw"
}

# --- main ------------------------------------------------------------------

mkdir -p "$OUT/raw"
ensure_packages
work=$(mktemp -d /tmp/gatehouse-dataplane.XXXXXX)
trap 'cleanup; rm -rf "$work"' EXIT

if [[ -n ${GATEHOUSE_BIN:-} ]]; then
	cp "$GATEHOUSE_BIN" "$work/gatehouse"
else
	log "building gatehouse"
	(cd "$root" && go build -o "$work/gatehouse" ./cmd/gatehouse)
fi
(cd "$root" && go build -o "$work/dptool" ./test/bench/dataplane/dptool)
dptool=$work/dptool

traefik_bin=
if [[ " $PROXIES " == *" traefik "* ]]; then
	traefik_bin=$(build_traefik)
	[[ -n $traefik_bin ]] || PROXIES=${PROXIES//traefik/}
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" >"$work/combined.pem"
cert_b64=$(base64 -w0 <"$work/cert.pem")
key_b64=$(base64 -w0 <"$work/key.pem")
read -r up_http up_tls px_http px_tls admin_port <<<"$("$dptool" ports 5 | tr '\n' ' ')"

mkdir -p "$work/upstream-body"
render "$here/conf/upstream-nginx.conf" "$work/upstream.conf"
start upstream "$LOAD_CPU" nginx -p "$work" -c "$work/upstream.conf" -g 'daemon off;'
upstream_pid=$started_pid
wait_ready "http://127.0.0.1:$up_http/"

results=$OUT/results.tsv
{
	echo "# data-plane benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	echo "# gatehouse $(cd "$root" && git describe --always --dirty 2>/dev/null || echo unknown), $(nginx -v 2>&1), $(haproxy -v | head -1), caddy $(caddy version | head -1), traefik ${traefik_bin:+$TRAEFIK_VERSION}, $(wrk --version 2>&1 | head -1), $(h2load --version | head -1)"
	echo "# load before the run: $(cat /proc/loadavg)"
	echo "# DURATION=$DURATION ROUNDS=$ROUNDS PROXY_CPU=$PROXY_CPU LOAD_CPU=$LOAD_CPU"
	echo "# round	scenario	proxy	req/s	p50_us	p99_us	errors	proxy_cpu_us_per_req"
} >"$results"
log "results: $results"

clk=$(getconf CLK_TCK)
for round in $(seq "$ROUNDS"); do
	for proxy in direct $PROXIES; do
		pid=
		if [[ $proxy == direct ]]; then
			hp=$up_http tp=$up_tls
		else
			start_proxy "$proxy"
			pid=$started_pid
			hp=$px_http tp=$px_tls
			if ! wait_ready "http://127.0.0.1:$hp/" || ! wait_ready "https://127.0.0.1:$tp/"; then
				log "$proxy did not start; see $OUT/$proxy.log"
				stop "$pid"
				continue
			fi
		fi
		for sc in $SCENARIOS; do
			raw=$OUT/raw/r$round-$sc-$proxy.txt
			load "$sc" "$hp" "$tp" 1 "$raw.warmup" >/dev/null || true
			rm -f "$raw.warmup"
			before=0
			[[ -n $pid ]] && before=$(cpu_ticks "$pid")
			if ! line=$(load "$sc" "$hp" "$tp" "$DURATION" "$raw"); then
				log "round $round $sc $proxy: load generator failed (see $raw)"
				continue
			fi
			cpu=-
			if [[ -n $pid ]]; then
				after=$(cpu_ticks "$pid")
				cpu=$(awk -v t=$((after - before)) -v clk="$clk" -v line="$line" \
					'BEGIN { split(line, f, "\t"); n = f[1] * '"$DURATION"'; printf "%.1f", (n > 0 ? t / clk * 1e6 / n : 0) }')
			fi
			printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$sc" "$proxy" "$line" "$cpu" >>"$results"
			log "round $round $sc $proxy: $(echo "$line" | cut -f1) req/s"
		done
		if [[ $proxy == gatehouse && ${PROFILE:-0} == 1 && $round == 1 ]]; then
			log "profiling gatehouse under h1-c64 load"
			taskset -c "$LOAD_CPU" wrk -t1 -c64 -d12s "http://127.0.0.1:$hp/" >/dev/null &
			curl -s -o "$OUT/gatehouse.cpu.pprof" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=10"
			curl -s -o "$OUT/gatehouse.allocs.pprof" "http://127.0.0.1:$admin_port/debug/pprof/allocs"
			wait $! || true
		fi
		[[ -n $pid ]] && stop "$pid"
	done
done
stop "$upstream_pid"

echo "# Data-plane benchmark: median of $ROUNDS rounds x ${DURATION}s per cell; proxy on CPU $PROXY_CPU, load + upstream on CPU $LOAD_CPU"
"$dptool" summary "$results" | tee "$OUT/summary.md"
