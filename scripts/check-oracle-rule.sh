#!/usr/bin/env bash
# The oracle rule tested (TestSupport/Oracle.swift): with VMXEMU_REQUIRE_ORACLES=1 and one oracle
# hidden by VMXEMU_ORACLE_HIDE, every test that needs it must FAIL, naming what is missing; without
# VMXEMU_REQUIRE_ORACLES, the same tests must be SKIPPED with the reason. Never a pass.
#
# Cheap by construction: the tests stop before doing any work (the oracle is probed first), so
# each run below is the test binary's start-up, well under a second. Run after
# `swift build --build-tests` (scripts/test.sh does). Exits non-zero when the rule is broken.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

# The test binary `swift build --build-tests` made (run directly: `swift test` would plan the
# build again each time).
bin=$(swift build --show-bin-path)/vmxemuPackageTests.xctest
[ -x "$bin" ] || { echo "check-oracle-rule: $bin not found (swift build --build-tests first)"; exit 2; }

# oracle name (VMXEMU_ORACLE_HIDE) → a --filter (regular expression) selecting only tests that
# need it.
cases=(
    "kvm|KVMDiffTests"
    "zydis|DecoderOracle|MnemonicOracleTests"
    "gdb|GDBInTheLoopTests|GDBEndToEndTests|VMXContextTests"
    "qemu|QEMUCrossCheckTests|qemuPrintsWhatTheNativeBuildPrints"
    "bochs|BochsComparisonTests"
    "images|GuestRunTests|REPLProcessTests"
    "vmxemu|REPLWorkedExampleTests"
)

failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Swift Testing's result lines, without colour.
results() { sed 's/\x1b\[[0-9;]*m//g' "$log"; }

for c in "${cases[@]}"; do
    oracle=${c%%|*}
    filter=${c#*|}
    # Not required: every selected test is skipped with the reason; the run passes; none passed.
    env -u VMXEMU_REQUIRE_ORACLES VMXEMU_ORACLE_HIDE="$oracle" "$bin" --testing-library swift-testing --filter "$filter" >"$log" 2>&1
    status=$?
    skipped=$(results | grep -cE "^➜ Test .* skipped: .*hidden by VMXEMU_ORACLE_HIDE=$oracle" || true)
    passes=$(results | grep -E '^✔ Test ' | grep -vc '^✔ Test run' || true)
    if [ "$status" -ne 0 ] || [ "$passes" -ne 0 ] || [ "$skipped" -eq 0 ]; then
        echo "oracle rule BROKEN: VMXEMU_ORACLE_HIDE=$oracle --filter '$filter': exit $status, $skipped tests skipped with the reason, $passes passed"
        results | tail -n 20
        failed=1
        continue
    fi
    # Required: each of those tests fails, naming the hidden oracle; the run fails; none passed.
    VMXEMU_REQUIRE_ORACLES=1 VMXEMU_ORACLE_HIDE="$oracle" "$bin" --testing-library swift-testing --filter "$filter" >"$log" 2>&1
    status=$?
    failing=$(results | grep -E "^✘ Test .* recorded an issue: .*VMXEMU_REQUIRE_ORACLES=1 and .*hidden by VMXEMU_ORACLE_HIDE=$oracle" | grep -vc '^✘ Test run' || true)
    passes=$(results | grep -E '^✔ Test ' | grep -vc '^✔ Test run' || true)
    if [ "$status" -eq 0 ] || [ "$passes" -ne 0 ] || [ "$failing" -ne "$skipped" ]; then
        echo "oracle rule BROKEN: VMXEMU_REQUIRE_ORACLES=1 VMXEMU_ORACLE_HIDE=$oracle --filter '$filter':" \
             "exit $status, $failing of $skipped tests failed naming the oracle, $passes passed"
        results | tail -n 20
        failed=1
    else
        echo "ok: VMXEMU_ORACLE_HIDE=$oracle --filter '$filter': $skipped tests skipped with the reason; with VMXEMU_REQUIRE_ORACLES=1 all $failing fail naming it (exit $status)"
    fi
done
exit $failed
