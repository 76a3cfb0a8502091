#!/usr/bin/env bash
# Benchmarks Authorize against its own baseline on this machine: the same authorize.lua called
# directly on the same Redis with EVALSHA, at the same concurrency, in the same run.
#
# Starts a private redis-server (free loopback port, temporary directory, no persistence) and
# the service on it, both on 127.0.0.1, and stops both on exit. For each workload it runs the
# redis-direct baseline, then the service, in a closed loop. Then it runs the service in an
# open loop at half of its many-tokens throughput, and measures the Redis memory of a token and
# a window. Prints one table with the ratio of each service throughput to the baseline's; the
# JSON reports stay in BENCH_KEEP if that is set.
#
# Settings, from the environment:
#   BENCH_DURATION     measured seconds per run (default 10)
#   BENCH_CONCURRENCY  concurrent callers (default 64)
#   BENCH_CONNECTIONS  connections the callers share, gRPC or Redis (default 2)
#   BENCH_WORKLOADS    workloads to run (default "many-tokens hot-token flood mixed")
#   BENCH_SERVER_ARGS  extra arguments for the service, such as "--redis-pool-size 8"
#   BENCH_KEEP         a directory to copy the JSON reports and the logs into
# Needs redis-server and python3 on PATH. Takes about 2 minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-10}
concurrency=${BENCH_CONCURRENCY:-64}
connections=${BENCH_CONNECTIONS:-2}
workloads=${BENCH_WORKLOADS:-many-tokens hot-token flood mixed}
read -r -a server_args <<<"${BENCH_SERVER_ARGS:-}"
# A system limit this high keeps the hot token under it; the flood workload sets a low
# user-defined limit on its own token instead.
system_limit=1000000000

# Digits only, so that "2s" and "1.5" get this message rather than a shell arithmetic error,
# read as decimal, so that "08" means 8.
if [[ ! $duration =~ ^[0-9]+$ ]] || ((10#$duration < 1 || 10#$duration > 120)); then
  echo "error: BENCH_DURATION must be a whole number of seconds from 1 to 120, got '$duration'" >&2
  exit 2
fi
duration=$((10#$duration))
for tool in redis-server python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool is not on PATH; install it first (Debian: apt-get install $tool)" >&2
    exit 1
  fi
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/bench}
echo "==> cargo build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
cargo build --release --locked --bin token-authority --bin token-authority-bench >&2
bench=$CARGO_TARGET_DIR/release/token-authority-bench
server=$CARGO_TARGET_DIR/release/token-authority

work=$(mktemp -d -t token-authority-bench.XXXXXX)
redis_pid=
server_pid=
cleanup() {
  for pid in $server_pid $redis_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n ${BENCH_KEEP:-} ]]; then
    mkdir -p "$BENCH_KEEP"
    cp "$work"/*.json "$work"/*.log "$BENCH_KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts connections on 127.0.0.1:$1, for at most 20 seconds.
wait_for_port() {
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: nothing listens on 127.0.0.1:$1 after 20 seconds; see the logs in $work" >&2
  exit 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize no --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
wait_for_port "$redis_port"
redis_url=redis://127.0.0.1:$redis_port

grpc_port=$(free_port)
"$server" --listen "127.0.0.1:$grpc_port" --metrics-listen 127.0.0.1:0 --redis-url "$redis_url" \
  --system-limit "$system_limit" --log-format json "${server_args[@]}" 2>"$work/server.log" &
server_pid=$!
wait_for_port "$grpc_port"

echo "==> load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Runs the generator with a hard time limit on top of its own bounds.
run() {
  timeout $((duration + 120)) "$bench" run --duration "$duration" --output json \
    --watch-pid "redis=$redis_pid" "$@"
}

reports=()
for workload in $workloads; do
  echo "==> $workload: redis-direct, then grpc, $concurrency callers" >&2
  run --target redis-direct --redis-url "$redis_url" --system-limit "$system_limit" \
    --workload "$workload" --concurrency "$concurrency" --connections "$connections" \
    >"$work/$workload-direct.json"
  run --target grpc --server "http://127.0.0.1:$grpc_port" --watch-pid "server=$server_pid" \
    --workload "$workload" --concurrency "$concurrency" --connections "$connections" \
    >"$work/$workload-grpc.json"
  reports+=("$work/$workload-direct.json" "$work/$workload-grpc.json")
done

if [[ -f $work/many-tokens-grpc.json ]]; then
  half=$(python3 -c 'import json, sys; print(max(1, int(json.load(open(sys.argv[1]))["throughput_per_second"] / 2)))' \
    "$work/many-tokens-grpc.json")
  echo "==> many-tokens: grpc, open loop at $half/s (half of the closed-loop throughput)" >&2
  run --target grpc --server "http://127.0.0.1:$grpc_port" --watch-pid "server=$server_pid" \
    --workload many-tokens --mode open --rate "$half" --concurrency 128 \
    --connections "$connections" >"$work/many-tokens-grpc-open.json"
  reports+=("$work/many-tokens-grpc-open.json")
fi

echo "==> load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$bench" compare "${reports[@]}"

echo "==> Redis memory of a token and a window (MEMORY USAGE, used_memory growth)" >&2
timeout 300 "$bench" memory --redis-url "$redis_url" --tokens 10000
