#!/usr/bin/env bash
# The threaded parts under ThreadSanitizer: builds with --sanitize=thread in its own build path
# (.build-tsan: the normal build is untouched) and runs the Debugger, GDBRemote and REPL tests —
# the CPU thread, the NIO event loop, the REPL's SIGINT flag, gdb and the vmxemu processes the
# end-to-end tests start (built with the sanitizer too). Every report of every process goes to
# a log file; the script fails if there is one, or if a test fails.
#
#   scripts/tsan.sh                 # build (first time: a full build) and run
#   scripts/tsan.sh --skip-build    # run again
#
# Not part of scripts/test.sh: the sanitized build is a second full build of the package (about
# as long as the normal one), which CI's time budget does not leave room for.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

build=.build-tsan
logs="$build/tsan-reports"
if [ "${1:-}" != "--skip-build" ]; then
    make -s -C GuestImages
    swift build --build-tests --sanitize=thread --build-path "$build"
fi
rm -rf "$logs"
mkdir -p "$logs"
status=0
# halt_on_error=0: every report is logged, the run goes on; second_deadlock_stack for lock reports.
TSAN_OPTIONS="log_path=$PWD/$logs/report second_deadlock_stack=1 history_size=4" \
    swift test --skip-build --sanitize=thread --build-path "$build" \
    --filter '^(DebuggerTests|GDBRemoteTests|REPLTests)\.' || status=$?
reports=$(cat "$logs"/report.* 2>/dev/null | grep -c "WARNING: ThreadSanitizer" || true)
echo "tsan.sh: tests exit status $status; ThreadSanitizer reports: $reports (logs in $logs)"
if [ "$reports" -gt 0 ]; then
    cat "$logs"/report.* | grep -A12 "WARNING: ThreadSanitizer" | head -200
    exit 1
fi
exit "$status"
