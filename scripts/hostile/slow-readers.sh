#!/usr/bin/env bash
# Slow-read attack (issue 20, rows 1 and 2): CONNS connections (slowhttptest -X) each request a 1 MiB response and
# read it through a tiny TCP window, while a separate process sends legitimate requests for a small file. Run
# against gatehouse and, in the same session, nginx, HAProxy and Caddy with equivalent configs (access logs off,
# one core each, the same nginx backend on loopback). Prints one line per target: slow connections established,
# upstream connections held, % of legitimate requests answered, their p50/p99 (ms), the proxy's RSS before and at
# its peak during the attack (MB), and the load average.
#
# Usage: scripts/hostile/slow-readers.sh [gatehouse|nginx|haproxy|caddy ...]   (default: all four)
# Environment: CONNS (1000), DURATION (seconds of legitimate traffic, 20), RATE (connections/s, 500), SETTLE
# (seconds between the slow connections being up and the measurement, 10: a proxy starved of CPU by a loaded machine
# takes seconds to take them all in), PIPELINED (requests per slow connection, 1),
# PROXY_CPU (core the proxy runs on, 1), GATEHOUSE_CONFIG_EXTRA (JSON merged into the load balancer, e.g.
# '{"maxConnections":128}' to see the old default), GATEHOUSE_DIST (the build to run, default dist: a before/after), NODE_FLAGS (node's flags for gatehouse, default the launchers' own). Needs: slowhttptest nginx-light haproxy caddy (Debian), a built
# gatehouse (npm run build). Run as root or with `ulimit -n` above 10 * CONNS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONNS=${CONNS:-1000}
DURATION=${DURATION:-20}
RATE=${RATE:-500}
SETTLE=${SETTLE:-10}
PROXY_CPU=${PROXY_CPU:-1}
BASE_PORT=${BASE_PORT:-18180}
BACKEND_PORT=$BASE_PORT
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(gatehouse nginx haproxy caddy)

missing=()
for tool in slowhttptest nginx haproxy caddy taskset ss; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]} (apt-get install -y slowhttptest nginx-light haproxy caddy)" >&2
  exit 2
fi
GATEHOUSE_DIST=${GATEHOUSE_DIST:-$ROOT/dist}
[ -f "$GATEHOUSE_DIST/cli/main.js" ] || { echo "gatehouse is not built: npm run build (or GATEHOUSE_DIST: $GATEHOUSE_DIST)" >&2; exit 2; }
ulimit -n $((CONNS * 10 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/slow-readers.XXXXXX)
chmod 755 "$WORK" # the nginx workers (nobody) read the files
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The backend: nginx serving /large (1 MiB) and /small (23 bytes) from disk, on the other core.
mkdir -p "$WORK/www" "$WORK/backend"
head -c 1048576 /dev/zero | tr '\0' x >"$WORK/www/large"
echo 'hello from the backend' >"$WORK/www/small"
nginx_common() { # $1: directory
  echo "daemon off; worker_processes 1; pid $1/nginx.pid; error_log $1/error.log warn; worker_rlimit_nofile $((CONNS * 4 + 1024));"
  echo "events { worker_connections $((CONNS * 4)); }"
}
{
  nginx_common "$WORK/backend"
  echo "http { access_log off; sendfile on; keepalive_requests 100000; keepalive_timeout 60s;"
  echo "  client_body_temp_path $WORK/backend/t1; proxy_temp_path $WORK/backend/t2; fastcgi_temp_path $WORK/backend/t3; uwsgi_temp_path $WORK/backend/t4; scgi_temp_path $WORK/backend/t5;"
  echo "  server { listen 127.0.0.1:$BACKEND_PORT; root $WORK/www; } }"
} >"$WORK/backend/nginx.conf"
taskset -c 0 nginx -c "$WORK/backend/nginx.conf" -p "$WORK/backend" &
PIDS+=($!)

wait_port() { # $1: port
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}
wait_port "$BACKEND_PORT"

rss_tree_kb() { # $1: pid; RSS of it and its descendants, kB
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" 2>/dev/null); do
    total=$((total + $(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

start_target() { # $1: name, $2: port, $3: its directory; echoes the pid
  local dir="$3"
  mkdir -p "$dir"
  case "$1" in
    gatehouse)
      cat >"$dir/gatehouse.json" <<JSON
{
  "log": { "level": "info", "accessLog": false },
  "entryPoints": { "web": { "address": "127.0.0.1:$2" } },
  "http": {
    "routers": { "all": { "rule": "PathPrefix(\`/\`)", "service": "backend" } },
    "services": { "backend": { "loadBalancer": $(node -e 'process.stdout.write(JSON.stringify({ servers: [{ url: process.argv[1] }], ...JSON.parse(process.argv[2]) }))' "http://127.0.0.1:$BACKEND_PORT" "${GATEHOUSE_CONFIG_EXTRA:-{\}}") } }
  }
}
JSON
      GATEHOUSE_STATE_DIR="$dir/state" taskset -c "$PROXY_CPU" node ${NODE_FLAGS:---max-semi-space-size=8 --heap-growing-percent=50} "$GATEHOUSE_DIST/cli/main.js" start --config "$dir/gatehouse.json" >"$dir/out.log" 2>&1 &
      ;;
    nginx)
      {
        nginx_common "$dir"
        echo "http { access_log off; keepalive_timeout 60s;"
        echo "  client_body_temp_path $dir/t1; proxy_temp_path $dir/t2; fastcgi_temp_path $dir/t3; uwsgi_temp_path $dir/t4; scgi_temp_path $dir/t5;"
        echo "  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 32; }"
        echo "  server { listen 127.0.0.1:$2; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }"
      } >"$dir/nginx.conf"
      taskset -c "$PROXY_CPU" nginx -c "$dir/nginx.conf" -p "$dir" >"$dir/out.log" 2>&1 &
      ;;
    haproxy)
      cat >"$dir/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn $((CONNS * 3))
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
frontend web
  bind 127.0.0.1:$2
  default_backend backend
backend backend
  http-reuse safe
  server s1 127.0.0.1:$BACKEND_PORT
CFG
      taskset -c "$PROXY_CPU" haproxy -db -f "$dir/haproxy.cfg" >"$dir/out.log" 2>&1 &
      ;;
    caddy)
      cat >"$dir/Caddyfile" <<CADDY
{
  admin off
  auto_https off
  storage file_system $dir/data
}
http://127.0.0.1:$2 {
  reverse_proxy 127.0.0.1:$BACKEND_PORT
}
CADDY
      HOME="$dir" XDG_DATA_HOME="$dir" XDG_CONFIG_HOME="$dir" GOMAXPROCS=1 taskset -c "$PROXY_CPU" caddy run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/out.log" 2>&1 &
      ;;
    *) echo "unknown target $1" >&2; return 1 ;;
  esac
  echo $!
}

count_established() { # $1: ss filter
  ss -Htn state established "$1" 2>/dev/null | wc -l
}

echo "# net.ipv4.tcp_notsent_lowat $(cat /proc/sys/net/ipv4/tcp_notsent_lowat 2>/dev/null || echo unknown) (4294967295: unlimited, the kernel default; docs/hostile.md)"
printf '%-10s %6s %9s %9s %7s %7s %7s %7s %7s  %s\n' target slow upstream answered p50ms p99ms rss0MB rssMB deltaMB load
i=0
for target in "${TARGETS[@]}"; do
  i=$((i + 1))
  port=$((BASE_PORT + i))
  dir="$WORK/$target-$i"
  pid=$(start_target "$target" "$port" "$dir")
  PIDS+=("$pid")
  wait_port "$port"
  # Warm up (pools, lazy modules), then the quiet RSS.
  node "$ROOT/scripts/hostile/legit-requests.mjs" "http://127.0.0.1:$port/small" 2 8 >/dev/null
  curl -s -o /dev/null "http://127.0.0.1:$port/large"
  sleep 1
  rss0=$(rss_tree_kb "$pid")
  taskset -c 0 slowhttptest -X -c "$CONNS" -r "$RATE" -w 1 -y 8 -n 2 -z 32 -k "${PIPELINED:-1}" -p 5 -l $((DURATION + CONNS / RATE + 30)) \
    -u "http://127.0.0.1:$port/large" >"$dir/slowhttptest.log" 2>&1 &
  attack=$!
  PIDS+=("$attack")
  # Until (nearly) every slow connection is up, bounded.
  for _ in $(seq 1 $((CONNS / RATE * 10 + 100))); do
    [ "$(count_established "( sport = :$port )")" -ge $((CONNS * 95 / 100)) ] && break
    sleep 0.1
  done
  sleep "$SETTLE"
  peak=$rss0
  (
    while kill -0 "$pid" 2>/dev/null; do rss_tree_kb "$pid"; sleep 0.5; done
  ) >"$dir/rss.log" &
  sampler=$!
  result=$(node "$ROOT/scripts/hostile/legit-requests.mjs" "http://127.0.0.1:$port/small" "$DURATION" 8 5000)
  slow=$(count_established "( sport = :$port )")
  upstream=$(count_established "( dport = :$BACKEND_PORT )")
  kill "$sampler" 2>/dev/null || true
  for kb in $(cat "$dir/rss.log"); do [ "$kb" -gt "$peak" ] && peak=$kb; done
  kill "$attack" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  read -r answered p50 p99 < <(node -e 'const r = JSON.parse(process.argv[1]); console.log(`${r.answeredPct}% ${r.p50} ${r.p99}`)' "$result")
  printf '%-10s %6s %9s %9s %7s %7s %7d %7d %+7d  %s\n' "$target" "$slow" "$upstream" "$answered" "$p50" "$p99" \
    $((rss0 / 1024)) $((peak / 1024)) $(((peak - rss0) / 1024)) "$(cut -d' ' -f1-3 /proc/loadavg)"
  [ -n "${VERBOSE:-}" ] && echo "  $result"
  sleep 1
done
