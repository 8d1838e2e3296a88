#!/usr/bin/env bash
# End-to-end check of the example, the way its README runs it: three counter-host nodes,
# commands and queries as JSON over HTTP (curl) and with `raftctl call`, a node killed with
# SIGKILL, and the counter still right. `make test` at the repository root runs it.
#
#   ./e2e.sh                      # builds counter-host here and raftctl at the repository root
#   RAFTCTL=/path/to/raftctl ./e2e.sh
#
# Ports 8401-8603 (the README's cluster.yaml shifted by 1000); data in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")"

swift build --product counter-host >/dev/null
host="$(swift build --show-bin-path)/counter-host"
if [[ -z "${RAFTCTL:-}" ]]; then
    (cd ../.. && swift build --product raftctl >/dev/null)
    RAFTCTL="$(cd ../.. && swift build --show-bin-path)/raftctl"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
sed -e "s#data: ./data#data: $work/data#" -e 's/127.0.0.1:74/127.0.0.1:84/' -e 's/127.0.0.1:75/127.0.0.1:85/' \
    -e 's/127.0.0.1:76/127.0.0.1:86/' cluster.yaml >"$work/cluster.yaml"

start() {
    "$host" serve --config "$work/cluster.yaml" --node "$1" >>"$work/$1.log" 2>&1 &
    pids[${1#n}]=$!
    disown # its SIGKILL below is the test, not news
}
fail() {
    echo "counter e2e: FAILED: $*" >&2
    for node in n1 n2 n3; do echo "--- $node.log (last lines)" >&2; tail -n 20 "$work/$node.log" >&2 || true; done
    exit 1
}
expect() { # expect <what> <expected> <actual>
    [[ "$3" == "$2" ]] || fail "$1: expected '$2', got '$3'"
    echo "ok: $1 = $3"
}
# curl waits for the cluster by itself (connection refused, 503 while no leader); the command
# carries a client id and sequence number, so a retry after an unknown outcome is not applied twice.
command() { # command <http port> <json> <client id>
    curl -s --fail-with-body --retry 60 --retry-all-errors --retry-delay 1 -X POST \
        -H 'Content-Type: application/json' -H "Raft-Client-ID: $3" -H 'Raft-Sequence: 1' \
        -d "$2" "http://127.0.0.1:$1/v1/groups/counter/command"
}
query() { # query <http port>
    curl -s --fail-with-body --retry 60 --retry-all-errors --retry-delay 1 -X POST \
        -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$1/v1/groups/counter/query"
}
call() { "$RAFTCTL" call --config "$work/cluster.yaml" --group counter --timeout 30s "$@"; }

start n1
start n2
start n3
expect "curl add 5 (node n1)" 5 "$(command 8601 '{"add":5}' 1001)"
expect "raftctl call add 3" 8 "$(call --command '{"add":3}')"
expect "curl query (node n3)" 8 "$(query 8603)"

kill -9 "${pids[1]}"
expect "raftctl call add 2 with n1 killed" 10 "$(call --command '{"add":2}')"
expect "curl query (node n2) with n1 killed" 10 "$(query 8602)"

start n1
expect "curl add -4 (node n1, restarted)" 6 "$(command 8601 '{"add":-4}' 1002)"
expect "raftctl call query" 6 "$(call --query '{}')"
echo "counter e2e: every check passed"
