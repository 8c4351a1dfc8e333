#!/usr/bin/env bash
# Install what building and testing vmxemu needs on a Debian machine, where missing.
# Swift 6.3 itself is expected on PATH (the project's machines ship it in /opt/swift).
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# gcc/binutils/make build GuestImages; gdb drives the gdb-in-the-loop tests; QEMU cross-checks
# the guest images; readline is the REPL's line editor; Zydis is the decoder oracle of the tests;
# Bochs 2.7 (with its BIOS/VGA ROM packages) is the VMX reference the VMX images are compared with;
# acpica-tools (iasl) checks the ACPI tables vmxemu builds; cpio packs the Linux initramfs;
# GNU time measures a child's peak RSS in the robustness tests.
for p in gcc make binutils gdb qemu-system-x86 libreadline-dev pkg-config libzydis-dev bochs bochsbios vgabios acpica-tools cpio time; do
    have "$p" || need+=("$p")
done

if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "setup: swift is not on PATH; add /opt/swift/usr/bin to PATH" >&2
    else
        echo "setup: Swift 6.3 is required (swift not found)" >&2
    fi
    exit 1
fi
