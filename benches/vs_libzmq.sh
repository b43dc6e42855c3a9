#!/usr/bin/env bash
# Side-by-side throughput and latency: ringmq's perf tools against libzmq's.
#
# Both sides use the same command-line conventions (libzmq's perf/ tools):
#   local_thr  <bind-to>    <size> <count>      last line: msgs_per_s=.. mb_per_s=.. elapsed_s=..
#   remote_thr <connect-to> <size> <count>
#   local_lat  <bind-to>    <size> <roundtrips>
#   remote_lat <connect-to> <size> <roundtrips> last line: rtt_mean_us=.. rtt_p50_us=.. rtt_p99_us=..
#   inproc_thr <size> <count>                   last line as local_thr
# ringmq's are the examples local_thr, remote_thr, local_lat, remote_lat,
# inproc_thr; libzmq's are zmq_local_thr, zmq_remote_thr, ... (the `zmq`
# crate, libzmq built from source). Runs ALTERNATE between the two sides
# (the side that goes first flips every round) and the table reports medians
# over the rounds and the ratio ours / libzmq. For throughput a ratio above 1
# means ringmq is faster; for latency (p50) a ratio below 1 means ringmq is
# faster. Absolute numbers on a shared machine are noise; ratios are the point.
#
# Any pair of ringmq examples that does not exist yet is skipped (its rows
# show libzmq alone), and --only-libzmq skips ringmq altogether.
#
# Usage: benches/vs_libzmq.sh [options]
#   --rounds N         rounds per row (default 5)
#   --only-libzmq      run libzmq's tools only
#   --sizes "A B .."   throughput message sizes (default "16 64 1024 65536")
#   --lat-sizes "A .." latency message sizes (default "64")
#   --no-thr | --no-lat | --no-inproc   leave those rows out
#   --raw              also run examples/raw_tcp_thr (plain TCP, no messaging
#                      library) in every throughput round: an extra row per
#                      size gives that ceiling and its ratio to libzmq
#   --scale F          multiply every message/roundtrip count by F (default 1)
#   --host H           loopback address to use (default 127.0.0.1)
#   --out FILE         also append raw per-run results (TSV) to FILE
# Counts are chosen so one run takes roughly 1-3 s on a 2-core machine; set
# COUNT_<size> (throughput) or LAT_COUNT_<size> (latency) to override one.
set -euo pipefail

ROUNDS=5
ONLY_LIBZMQ=0
SIZES="16 64 1024 65536"
LAT_SIZES="64"
DO_THR=1
DO_LAT=1
DO_INPROC=1
SCALE=1
HOST=127.0.0.1
OUT=""
RAW=0

die() { echo "vs_libzmq: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --only-libzmq) ONLY_LIBZMQ=1; shift ;;
        --sizes) SIZES="${2:?}"; shift 2 ;;
        --lat-sizes) LAT_SIZES="${2:?}"; shift 2 ;;
        --no-thr) DO_THR=0; shift ;;
        --no-lat) DO_LAT=0; shift ;;
        --no-inproc) DO_INPROC=0; shift ;;
        --scale) SCALE="${2:?}"; shift 2 ;;
        --host) HOST="${2:?}"; shift 2 ;;
        --out) OUT="${2:?}"; shift 2 ;;
        --raw) RAW=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/examples"

# Default counts: about 1-3 s per run with libzmq over loopback.
default_thr_count() {
    case "$1" in
        16) echo 5000000 ;;
        64) echo 3000000 ;;
        256) echo 2000000 ;;
        1024) echo 1000000 ;;
        4096) echo 400000 ;;
        16384) echo 120000 ;;
        65536) echo 30000 ;;
        *) echo $(( 1000000000 / ($1 + 200) )) ;;
    esac
}
default_lat_count() {
    if (( $1 <= 4096 )); then echo 20000; else echo 5000; fi
}
scaled() { awk -v n="$1" -v f="$SCALE" 'BEGIN { c = int(n * f); if (c < 1) c = 1; print c }'; }
thr_count() { local v="COUNT_$1"; scaled "${!v:-$(default_thr_count "$1")}"; }
lat_count() { local v="LAT_COUNT_$1"; scaled "${!v:-$(default_lat_count "$1")}"; }

# --- build --------------------------------------------------------------
have_ours() { # have_ours name...: all of our examples exist as sources
    local n
    for n in "$@"; do [[ -f "examples/$n.rs" ]] || return 1; done
}
EXAMPLES=(zmq_local_thr zmq_remote_thr zmq_local_lat zmq_remote_lat zmq_inproc_thr)
OURS_THR=0; OURS_LAT=0; OURS_INPROC=0
if (( ! ONLY_LIBZMQ )); then
    if have_ours local_thr remote_thr; then OURS_THR=1; EXAMPLES+=(local_thr remote_thr)
    else echo "note: examples/local_thr.rs or remote_thr.rs missing; tcp throughput runs libzmq only" >&2; fi
    if have_ours local_lat remote_lat; then OURS_LAT=1; EXAMPLES+=(local_lat remote_lat)
    else echo "note: examples/local_lat.rs or remote_lat.rs missing; latency runs libzmq only" >&2; fi
    if have_ours inproc_thr; then OURS_INPROC=1; EXAMPLES+=(inproc_thr)
    else echo "note: examples/inproc_thr.rs missing; inproc throughput runs libzmq only" >&2; fi
fi
if (( RAW )) && (( DO_THR )); then EXAMPLES+=(raw_tcp_thr); fi
build_args=()
for e in "${EXAMPLES[@]}"; do build_args+=(--example "$e"); done
echo "building (release): ${EXAMPLES[*]}" >&2
cargo build --release --quiet "${build_args[@]}" || die "build failed"

# --- running ------------------------------------------------------------
# A port per run, away from other users of this machine: derived from the
# PID, then stepped every run so no run meets a previous run's sockets.
PORT=$(( 20000 + ($$ % 20000) ))
next_port() { PORT=$(( PORT + 1 )); (( PORT < 65000 )) || PORT=20000; }
RUN_TIMEOUT=${RUN_TIMEOUT:-300}

LOG="$(mktemp -d "${TMPDIR:-/tmp}/vs_libzmq.XXXXXX")"
trap 'rm -rf "$LOG"' EXIT

# field NAME LINE: the value of NAME=... in LINE
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# run_pair LOCAL REMOTE SIZE COUNT KEY: local side binds, remote connects;
# prints the value of KEY from the last line of whichever side reports it.
run_pair() {
    local local_bin="$1" remote_bin="$2" size="$3" count="$4" key="$5"
    next_port
    local ep="tcp://$HOST:$PORT"
    timeout "$RUN_TIMEOUT" "$BIN/$local_bin" "$ep" "$size" "$count" >"$LOG/local" 2>&1 &
    local lpid=$!
    if ! timeout "$RUN_TIMEOUT" "$BIN/$remote_bin" "$ep" "$size" "$count" >"$LOG/remote" 2>&1; then
        kill "$lpid" 2>/dev/null || true
        wait "$lpid" 2>/dev/null || true
        echo "run failed: $remote_bin $ep $size $count: $(tail -n 3 "$LOG/remote")" >&2
        echo "nan"; return
    fi
    if ! wait "$lpid"; then
        echo "run failed: $local_bin $ep $size $count: $(tail -n 3 "$LOG/local")" >&2
        echo "nan"; return
    fi
    local v
    v="$(field "$key" "$(tail -n 1 "$LOG/local")")"
    [[ -n "$v" ]] || v="$(field "$key" "$(tail -n 1 "$LOG/remote")")"
    echo "${v:-nan}"
}

run_raw() {
    local size="$1" count="$2"
    # One record per read for large records (the tool's default, fastest
    # there); 64 KiB reads for small ones, as a real receiver would batch.
    local rs=$(( size + 9 > 65536 ? size + 9 : 65536 ))
    if ! timeout "$RUN_TIMEOUT" "$BIN/raw_tcp_thr" "$size" "$count" "$rs" >"$LOG/raw" 2>&1; then
        echo "run failed: raw_tcp_thr $size $count: $(tail -n 3 "$LOG/raw")" >&2
        echo "nan"; return
    fi
    local v
    v="$(field msgs_per_s "$(tail -n 1 "$LOG/raw")")"
    echo "${v:-nan}"
}

run_inproc() {
    local bin="$1" size="$2" count="$3"
    if ! timeout "$RUN_TIMEOUT" "$BIN/$bin" "$size" "$count" >"$LOG/inproc" 2>&1; then
        echo "run failed: $bin $size $count: $(tail -n 3 "$LOG/inproc")" >&2
        echo "nan"; return
    fi
    local v
    v="$(field msgs_per_s "$(tail -n 1 "$LOG/inproc")")"
    echo "${v:-nan}"
}

median() { # median of the numbers given (nan entries ignored)
    printf '%s\n' "$@" | grep -v '^nan$' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "-"; else if (v >= 100) printf "%.0f", v; else printf "%.2f", v }'; }
record() { [[ -z "$OUT" ]] || printf '%s\n' "$*" | tr ' ' '\t' >>"$OUT"; }

ROWS=()
# bench KIND SIZE COUNT OURS_AVAILABLE: ROUNDS alternating runs of both sides
bench() {
    local kind="$1" size="$2" count="$3" ours_ok="$4"
    local ours=() theirs=() raws=() r v side first extra
    extra=""
    if [[ $kind == thr ]] && (( RAW )); then extra=raw; fi
    for (( r = 1; r <= ROUNDS; r++ )); do
        # Flip which side goes first each round.
        if (( r % 2 )); then first=ours; else first=libzmq; fi
        for side in $first $([[ $first == ours ]] && echo libzmq || echo ours) $extra; do
            if [[ $side == ours ]] && (( ! ours_ok )); then continue; fi
            case "$kind:$side" in
                thr:ours) v="$(run_pair local_thr remote_thr "$size" "$count" msgs_per_s)" ;;
                thr:libzmq) v="$(run_pair zmq_local_thr zmq_remote_thr "$size" "$count" msgs_per_s)" ;;
                lat:ours) v="$(run_pair local_lat remote_lat "$size" "$count" rtt_p50_us)" ;;
                lat:libzmq) v="$(run_pair zmq_local_lat zmq_remote_lat "$size" "$count" rtt_p50_us)" ;;
                inproc:ours) v="$(run_inproc inproc_thr "$size" "$count")" ;;
                inproc:libzmq) v="$(run_inproc zmq_inproc_thr "$size" "$count")" ;;
                thr:raw) v="$(run_raw "$size" "$count")" ;;
            esac
            echo "  $kind size=$size count=$count round=$r $side: $v" >&2
            record "$kind" "$size" "$count" "$r" "$side" "$v"
            case $side in
                ours) ours+=("$v") ;;
                raw) raws+=("$v") ;;
                *) theirs+=("$v") ;;
            esac
        done
    done
    local mo="nan" mt
    (( ${#ours[@]} )) && mo="$(median "${ours[@]}")"
    mt="$(median "${theirs[@]}")"
    local label
    case "$kind" in
        thr) label="tcp throughput (msg/s)" ;;
        lat) label="tcp latency, RTT p50 (us)" ;;
        inproc) label="inproc throughput (msg/s)" ;;
    esac
    ROWS+=("| $label | $size | $count | $(fmt "$mo") | $(fmt "$mt") | $(ratio "$mo" "$mt") |")
    if (( ${#raws[@]} )); then
        local mr
        mr="$(median "${raws[@]}")"
        ROWS+=("| raw tcp, no library (msg/s; ratio raw / libzmq) | $size | $count | $(fmt "$mr") | $(fmt "$mt") | $(ratio "$mr" "$mt") |")
    fi
}

echo "rounds: $ROUNDS, host: $HOST" >&2
if (( DO_THR )); then
    for s in $SIZES; do bench thr "$s" "$(thr_count "$s")" "$OURS_THR"; done
fi
if (( DO_INPROC )); then
    for s in $SIZES; do bench inproc "$s" "$(thr_count "$s")" "$OURS_INPROC"; done
fi
if (( DO_LAT )); then
    for s in $LAT_SIZES; do bench lat "$s" "$(lat_count "$s")" "$OURS_LAT"; done
fi

echo
echo "Medians of $ROUNDS alternating rounds on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)."
echo "Throughput ratio = ours / libzmq (above 1: ringmq faster); latency ratio = ours / libzmq p50 (below 1: ringmq faster)."
echo
echo "| test | size (B) | count | ringmq | libzmq | ratio |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
