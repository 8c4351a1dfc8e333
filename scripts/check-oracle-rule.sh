#!/usr/bin/env bash
# The oracle rule tested (TestSupport/Oracle.swift): with VMXEMU_REQUIRE_ORACLES=1 and one oracle
# hidden by VMXEMU_ORACLE_HIDE, every test that needs it must FAIL, naming what is missing; without
# VMXEMU_REQUIRE_ORACLES, the same tests must be SKIPPED with the reason. Never a pass.
#
# Cheap by construction: the tests stop before doing any work (the oracle is probed first), so
# each run below is the test binary's start-up, a few seconds. Run after `swift build --build-tests`
# (scripts/test.sh does). Exits non-zero when the rule is broken.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

# oracle name (VMXEMU_ORACLE_HIDE) → a --filter selecting tests that need it, and how many of
# them the filter selects (each must fail, or be skipped).
cases=(
    "kvm|KVMDiffTests\\.|2"
    "zydis|DecoderOracleSelfTests\\.|3"
    "zydis|MnemonicOracleTests\\.|2"
    "gdb|GDBInTheLoopTests\\.|4"
    "gdb|VMXContextTests\\.|2"
    "qemu|QEMUCrossCheckTests\\.|1"
    "bochs|BochsComparisonTests\\.|2"
    "images|REPLContextTests\\.|6"
    "vmxemu|REPLWorkedExampleTests\\.|4"
)

failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for c in "${cases[@]}"; do
    IFS='|' read -r oracle filter want <<<"$c"
    # Required: every selected test fails, and the failure names the hidden oracle.
    VMXEMU_REQUIRE_ORACLES=1 VMXEMU_ORACLE_HIDE=$oracle swift test --skip-build --filter "$filter" >"$log" 2>&1
    status=$?
    failures=$(grep -cE '^✘ Test .* (failed|recorded an issue)' "$log" || true)
    failing=$(grep -E '^✘ Test .*failed' "$log" | grep -vc 'Suite' || true)
    passes=$(grep -E '^✔ Test .*passed' "$log" | grep -c . || true)
    named=$(grep -c "VMXEMU_REQUIRE_ORACLES=1 and .*hidden by VMXEMU_ORACLE_HIDE=$oracle" "$log" || true)
    if [ "$status" -eq 0 ] || [ "$passes" -ne 0 ] || [ "$named" -eq 0 ] || [ "$failing" -lt "$want" ]; then
        echo "oracle rule BROKEN: VMXEMU_REQUIRE_ORACLES=1 VMXEMU_ORACLE_HIDE=$oracle --filter '$filter':" \
             "exit $status, $failing of $want tests failed, $passes passed, $named messages name the oracle"
        tail -n 30 "$log"
        failed=1
    else
        echo "ok: required + hidden $oracle → $filter exits $status, $failing tests fail naming it"
    fi
    # Not required: the same tests are skipped with the reason, the run passes, nothing passed.
    env -u VMXEMU_REQUIRE_ORACLES VMXEMU_ORACLE_HIDE=$oracle swift test --skip-build --filter "$filter" >"$log" 2>&1
    status=$?
    passes=$(grep -E '^✔ Test .*passed' "$log" | grep -c . || true)
    skipped=$(grep -cE '^➜ Test .*skipped: .*hidden by VMXEMU_ORACLE_HIDE' "$log" || true)
    if [ "$status" -ne 0 ] || [ "$passes" -ne 0 ] || [ "$skipped" -lt "$want" ]; then
        echo "oracle rule BROKEN: VMXEMU_ORACLE_HIDE=$oracle --filter '$filter':" \
             "exit $status, $skipped of $want tests skipped with the reason, $passes passed"
        tail -n 30 "$log"
        failed=1
    else
        echo "ok: hidden $oracle → $filter skips $skipped tests with the reason"
    fi
done
exit $failed
