#!/usr/bin/env bash
# Idle CPU of a three-node cluster per number of groups: starts `rafthost serve` for n1..n3 on
# loopback with a generated cluster.yaml of N key/value groups, lets the elections settle,
# then reads utime+stime of each process from /proc/<pid>/stat over a window and prints the
# share of one core each node used. Nothing is written to the groups: this is the cost of
# ticks and heartbeats alone, or with quiescence (the default, `raft.quiesceAfter: 5s`) of the
# node-level liveness pings once the groups went quiet.
#
#   Benchmarks/idle_cpu.sh [-b path/to/rafthost] [-w seconds] [-s settle-seconds] [-q quiesceAfter|off] [-f] 1 100 1000
#
# With -f, after the window n1 is killed (SIGKILL) and the script prints how long n2 and n3 took
# until every group had a leader again (polled through /v1/status).
#
# Default binary: the release build (`swift build -c release --product rafthost`).
set -euo pipefail

bin=""
window=20
settle=15
quiesce=5s
failover=false
while getopts "b:w:s:q:f" option; do
    case $option in
        b) bin=$OPTARG ;;
        w) window=$OPTARG ;;
        s) settle=$OPTARG ;;
        q) quiesce=$OPTARG ;;
        f) failover=true ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
counts=("${@:-1 100 1000}")
if [ -z "$bin" ]; then
    bin="$(swift build -c release --show-bin-path)/rafthost"
fi
[ -x "$bin" ] || { echo "no rafthost at $bin (build it, or pass -b)" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
base=$((17000 + RANDOM % 2000 * 3))
work=$(mktemp -d /tmp/idle-cpu.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

cpu_ticks() { # utime + stime of a process, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

count_in_status() { # how often the pattern $2 occurs in the /v1/status of nodes $3.. (numbers)
    local pattern=$1 total=0 i status
    shift
    for i in "$@"; do
        status=$(curl -s --max-time 10 "http://127.0.0.1:$((base + 20 + i))/v1/status" || true)
        total=$((total + $(grep -o "$pattern" <<<"$status" | wc -l || true)))
    done
    echo "$total"
}

printf "%-8s %-10s %-10s %-10s %s\n" groups n1 n2 n3 "(% of one core over ${window} s, after ${settle} s to elect; quiesceAfter: $quiesce)"
for count in ${counts[@]}; do
    config="$work/cluster-$count.yaml"
    {
        echo "cluster: idle$count"
        echo "data: $work/data-$count"
        echo "nodes:"
        for i in 1 2 3; do
            echo "  - id: n$i"
            echo "    peer: 127.0.0.1:$((base + i))"
            echo "    client: 127.0.0.1:$((base + 10 + i))"
            echo "    http: 127.0.0.1:$((base + 20 + i))"
        done
        echo "groups:"
        for g in $(seq 1 "$count"); do
            echo "  - name: g$g"
            echo "    stateMachine: KeyValueStore"
            echo "    maxraftstate: 1048576"
        done
        echo "raft:"
        echo "  heartbeat: 50ms"
        echo "  electionTimeout: 500ms"
        echo "  quiesceAfter: $quiesce"
        echo "storage:"
        echo "  fsync: always"
    } >"$config"
    pids=()
    for i in 1 2 3; do
        "$bin" serve --config "$config" --node "n$i" >"$work/n$i-$count.log" 2>&1 &
        pids+=($!)
    done
    sleep "$settle"
    leaders=$(count_in_status '"role" *: *"leader"' 1 2 3)
    start=()
    for pid in "${pids[@]}"; do start+=("$(cpu_ticks "$pid")"); done
    sleep "$window"
    line=$(printf "%-8s" "$count")
    for index in 0 1 2; do
        used=$(($(cpu_ticks "${pids[$index]}") - ${start[$index]}))
        line+=$(printf " %-10s" "$(awk -v t="$used" -v hz="$ticks" -v w="$window" 'BEGIN { printf "%.1f%%", 100 * t / hz / w }')")
    done
    quiet=$(count_in_status '"quiescent" *: *true' 1 2 3)
    echo "$line $leaders/$count groups led, $quiet/$((3 * count)) replicas quiescent at the end"
    if $failover; then
        led_by_n1=$(count_in_status '"role" *: *"leader"' 1)
        killed=$(date +%s.%N)
        kill -9 "${pids[0]}"
        { wait "${pids[0]}"; } 2>/dev/null || true
        while true; do
            led=$(count_in_status '"role" *: *"leader"' 2 3)
            elapsed=$(awk -v a="$killed" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
            if [ "$led" -ge "$count" ]; then
                echo "         n1 killed (it led $led_by_n1 groups): every group led again after $elapsed s"
                break
            fi
            if awk -v e="$elapsed" 'BEGIN { exit !(e > 60) }'; then
                echo "         n1 killed (it led $led_by_n1 groups): only $led/$count groups led after $elapsed s"
                break
            fi
            sleep 0.1
        done
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
    base=$((base + 30))
done
