#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md: builds the binary, starts
# `onboarding dev` on a fresh DATA_DIR (application database on SQLite, then
# on PostgreSQL), and runs the load generator against it. Results go to
# $OUT (default docs/bench) as JSON, with the latency plot as SVG.
#
#   docs/bench/run.sh            # everything (about 15 minutes)
#   docs/bench/run.sh sqlite     # one part only: sqlite, postgres or profile
#
# PostgreSQL: $BENCH_PG (default the local server, database onboarding_bench,
# dropped and created afresh).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-docs/bench}
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/onboarding_bench?sslmode=disable}
work=$(mktemp -d)
bin=$work/onboarding
go build -o "$bin" ./cmd/onboarding
api=http://127.0.0.1:18080

dev() { # $1: name, $2: DATABASE_URL or empty; sets pid
  DATA_DIR=$work/$1 HTTP_ADDR=127.0.0.1:18080 PUBLIC_BASE_URL=$api TEMPORAL_ADDRESS=127.0.0.1:17233 \
    TEMPORAL_UI_ADDR=127.0.0.1:18233 DEV_SMTP_ADDR=127.0.0.1:11025 METRICS_ADDR=127.0.0.1:19090 \
    PPROF_ADDR=127.0.0.1:16060 RATE_LIMITS=off LOG_LEVEL=warn DATABASE_URL=$2 \
    "$bin" dev >"$work/$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fs "$api/readyz" >/dev/null && return; sleep 0.2; done
  cat "$work/$1.log"
  exit 1
}

stop() { kill -TERM "$pid"; wait "$pid" || true; }

bench() { "$bin" bench --url "$api" --temporal 127.0.0.1:17233 --pids "$pid" "$@"; }

run() { # $1: sqlite or postgres
  local name=$1 url=""
  if [ "$name" = postgres ]; then
    psql "${pg%/*}/postgres" -qc "DROP DATABASE IF EXISTS onboarding_bench" -c "CREATE DATABASE onboarding_bench"
    url=$pg
  fi
  dev "$name" "$url"
  # People who pause 1–3 s between steps: the latency target.
  bench -c 20 -n 100 --think 1s-3s --json "$out/think20-$name.json"
  # Clients that never pause: capacity, beside the same-shape no-op ceiling
  # and the engine's empty workflows, through the same Temporal server.
  bench -c 20 -n 300 --think 0 --ceiling --engine 300 --json "$out/capacity-$name.json"
  # Latency and throughput against concurrency.
  bench --sweep 1,5,10,20,40 -n 0 --duration 45s --think 1s-3s --json "$out/sweep-$name.json" --svg "$out/latency-$name.svg"
  stop
}

# Where the server's CPU goes while clients never pause: a 20 s CPU profile
# in the middle of a capacity run, written as text (top functions, and the
# share under each of our own packages' entry points).
profile() {
  dev profile ""
  bench -c 20 -n 600 --think 0 >/dev/null 2>&1 &
  local b=$!
  sleep 8
  curl -fs "http://127.0.0.1:16060/debug/pprof/profile?seconds=20" -o "$work/cpu.pprof"
  wait "$b" || true
  stop
  {
    echo "# go tool pprof -top (flat), 20 s of a capacity run (-c 20 --think 0) on onboarding dev, SQLite"
    go tool pprof -top -nodecount=25 "$bin" "$work/cpu.pprof" 2>/dev/null
    echo
    echo "# cumulative share of chosen entry points"
    go tool pprof -top -cum -nodecount=400 "$bin" "$work/cpu.pprof" 2>/dev/null |
      grep -E 'argon2\.IDKey$|argon2\.processBlockSSE$|gin\.\(\*Engine\)\.ServeHTTP$|api\.\(\*Server\)\.[a-zA-Z]+$|activities\.\(\*Activities\)\.[A-Za-z]+$|workflows\.Signup$|runtime\.gcBgMarkWorker$|ReplaceIntoVisibility$|sqlite\.\(\*conn\)\.(exec|query)$|ProcessWorkflowTask$' | head -40 || true
  } >"$out/cpu-profile.txt"
}

if [ $# -eq 0 ]; then set -- sqlite postgres profile; fi
for p in "$@"; do
  if [ "$p" = profile ]; then profile; else run "$p"; fi
done
echo "results in $out; logs in $work"
