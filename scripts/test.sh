#!/usr/bin/env bash
# The test command of the README: install what is missing, build the guest images and the
# emulator, run every test. Exits non-zero when anything fails.
#
# The random oracles (DecoderOracleTests, KVMDiffTests) run with their fixed seed and with a
# fresh one per run (VMXEMU_FRESH_SEED, printed here and in each report, so a failure
# reproduces: pass it as VMXEMU_ORACLE_SEED / VMXEMU_KVM_SEED). Then the oracle rule itself is
# checked: with an oracle hidden, the tests that need it fail (scripts/check-oracle-rule.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

bash scripts/setup.sh
make -s -C GuestImages
swift build --build-tests
if [ -z "${VMXEMU_FRESH_SEED:-}" ]; then
    VMXEMU_FRESH_SEED=0x$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
    export VMXEMU_FRESH_SEED
fi
echo "test.sh: fresh seed for the random oracles: VMXEMU_FRESH_SEED=$VMXEMU_FRESH_SEED"
# ServerRobustnessTests measure this test process's own RSS and the stub's timers: they run on
# their own afterwards, so no other suite allocates or competes for the two cores beside them.
swift test --skip-build --skip ServerRobustnessTests
swift test --skip-build --filter ServerRobustnessTests
bash scripts/check-oracle-rule.sh
