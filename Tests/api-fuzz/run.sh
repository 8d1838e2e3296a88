#!/usr/bin/env bash
# Fuzzes the HTTP API of a live three-node cluster with schemathesis (PyPI) against the
# OpenAPI description the node itself serves (GET /v1/openapi.yaml; SCHEMA=openapi.yaml, the
# same text, also tests that operation, which schemathesis skips when it loads the URL): every check, so no 5xx,
# every status, content type, header and body as described, 405 with Allow for other methods.
# `make api-fuzz` runs it; the summary is printed and the full report kept in $OUT.
#
#   RAFTHOST=.build/debug/rafthost Tests/api-fuzz/run.sh [out-dir] [extra st run options...]
#
# SCHEMA=openapi.yaml fuzzes with that file instead of the served description (to try an edit
# before rebuilding); PYTHON picks the interpreter of the virtual environment.
set -euo pipefail
out="${1:-build/api-fuzz}"
shift || true
mkdir -p "$out"
out="$(cd "$out" && pwd)"
: "${RAFTHOST:?set RAFTHOST to the rafthost executable}"

# Python 3.12 or later where there is one: 3.11.7's parser fails now and then inside
# hypothesis ("AST constructor recursion depth mismatch", fixed in later CPythons).
pick_python() {
    local candidate version
    local candidates=("${PYTHON:-}" python3.13 python3.12)
    if command -v pyenv >/dev/null; then
        for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])(\.|$)' | sort -rV); do
            candidates+=("$(pyenv root)/versions/$version/bin/python3")
        done
    fi
    for candidate in "${candidates[@]}"; do
        [[ -n "$candidate" ]] || continue
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo python3
}

venv="$out/venv"
if [[ ! -x "$venv/bin/st" ]]; then
    python="$(pick_python)"
    echo "api-fuzz: installing schemathesis into $venv with pip ($("$python" --version))"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Nine free loopback ports, from the kernel.
mapfile -t ports < <(python3 -c '
import socket
held = [socket.socket() for _ in range(9)]
for s in held: s.bind(("127.0.0.1", 0))
for s in held: print(s.getsockname()[1])
')
{
    echo "cluster: api-fuzz"
    echo "data: $work/data"
    echo "nodes:"
    for i in 0 1 2; do
        echo "  - id: n$((i + 1))"
        echo "    peer: 127.0.0.1:${ports[i]}"
        echo "    client: 127.0.0.1:${ports[3 + i]}"
        echo "    http: 127.0.0.1:${ports[6 + i]}"
    done
    echo "groups:"
    echo "  - { name: kv, stateMachine: KeyValueStore }"
    echo "  - { name: locks, stateMachine: LockService }"
    echo "raft: { heartbeat: 50ms, electionTimeout: 500ms }"
    echo "http: { maxBodySize: 64KiB }"
    echo "requestTimeout: 5s"
} >"$work/cluster.yaml"
for node in n1 n2 n3; do
    "$RAFTHOST" serve --config "$work/cluster.yaml" --node "$node" >>"$out/$node.log" 2>&1 &
    pids+=($!)
done
http="http://127.0.0.1:${ports[6]}"
# The cluster is ready once n1 knows a leader of both groups (poll with a deadline).
deadline=$((SECONDS + 60))
until curl -sf "$http/v1/status" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["groups"]
sys.exit(0 if groups and all(g["leader"] for g in groups) else 1)' 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "api-fuzz: no leader within 60 s" >&2; exit 1; fi
    sleep 0.1 # the poll interval
done

started=$SECONDS
status=0
"$venv/bin/st" --config-file "$(dirname "$0")/schemathesis.toml" run "${SCHEMA:-$http/v1/openapi.yaml}" --url "$http" --checks all --workers 2 \
    --request-timeout 20 --max-examples "${MAX_EXAMPLES:-50}" \
    --report junit,ndjson --report-dir "$out/report" "$@" | tee "$out/summary.txt" || status=$?
for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "api-fuzz: a node crashed (see $out/n*.log)" >&2; status=1; }
done
echo "api-fuzz: schemathesis took $((SECONDS - started)) s, exit status $status; report in $out"
exit "$status"
