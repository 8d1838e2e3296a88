#!/usr/bin/env bash
# Runs the Swift test suite (already built) under a watchdog. A test that never returns would
# otherwise hold CI until its own limit and say nothing; past SUITE_TIME_LIMIT seconds this
# prints the tests that started and did not finish, the native thread backtraces of the test
# process (when gdb is there), the last lines of the rafthost logs left in the temporary
# directory, and fails.
#   SUITE_TIME_LIMIT   seconds before the suite counts as hung (default 900; a pass takes ~100)
#   anything else      passed to `swift test`
set -uo pipefail

limit="${SUITE_TIME_LIMIT:-900}"
log="$(mktemp -t rafthost-suite.XXXXXX)"
trap 'rm -f "$log"' EXIT

# Line-buffered: a pipe would otherwise hold the last few kilobytes of progress (as it did in CI).
stdbuf -oL -eL swift test --skip-build "$@" > >(tee "$log") 2>&1 &
runner=$!

# The test process, once swift test has started it.
test_process() { pgrep -n -f 'RaftHostPackageTests.xctest' || true; }

elapsed=0
while kill -0 "$runner" 2>/dev/null; do
    if ((elapsed >= limit)); then
        echo
        echo "run-suite: the suite is still running after ${limit} s; these tests started and did not finish:"
        python3 - "$log" <<'EOF' || true
import re, sys
started, done = [], set()
for line in open(sys.argv[1], errors="replace"):
    if "Test case" in line:
        continue
    m = re.search(r"◇ (Test|Suite) (.*) started\.", line)
    if m and m.group(2) != "run":
        started.append(m.group(2))
    m = re.search(r"[✔✘] (Test|Suite) (.*?)( with \d+ test cases?)? (passed|failed) after", line)
    if m:
        done.add(m.group(2))
for name in started:
    if name not in done:
        print("  " + name)
EOF
        pid="$(test_process)"
        if [[ -n "$pid" ]] && command -v gdb >/dev/null; then
            echo "run-suite: native backtraces of the test process $pid:"
            timeout 120 gdb -p "$pid" -batch -ex "thread apply all bt 30" 2>/dev/null | grep -E "^Thread|^#" | head -600
        fi
        for file in $(find "${TMPDIR:-/tmp}" -maxdepth 3 -name 'n[0-9]*.log' -newer "$log" 2>/dev/null | head -12); do
            echo "run-suite: last lines of $file:"
            tail -15 "$file"
        done
        # The rafthost processes the hung tests started go too, then the test process.
        [[ -n "$pid" ]] && pkill -KILL -P "$pid" 2>/dev/null
        [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
        pkill -KILL -P "$runner" 2>/dev/null
        kill -KILL "$runner" 2>/dev/null
        wait "$runner" 2>/dev/null
        echo "run-suite: FAILED: the suite hung (limit ${limit} s, SUITE_TIME_LIMIT)"
        exit 124
    fi
    sleep 5
    elapsed=$((elapsed + 5))
done
wait "$runner"
