#!/bin/sh
# mkinitramfs.sh ROOT STAGING OUT — a newc cpio (gzip) with /init, busybox and the KVM modules
# taken from ROOT (the extracted kernel and busybox-static packages).
set -eu
root=$1 stage=$2 out=$3
here=$(dirname "$0")
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/sbin" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp" "$stage/modules"
cp "$root/bin/busybox" "$stage/bin/busybox"
for applet in sh mount cat dmesg grep poweroff reboot insmod ls echo uname sleep head; do
    ln -s busybox "$stage/bin/$applet"
done
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
# kvm.ko needs irqbypass.ko; kvm-intel.ko needs kvm.ko (insmod in that order).
for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-intel.ko; do
    f=$(find "$root/lib/modules" -path "*/kernel/$m" | head -1)
    [ -n "$f" ] && cp "$f" "$stage/modules/"
done
(cd "$stage" && find . | sort | cpio -o -H newc --quiet) | gzip -9 > "$out"
echo "initramfs: $out ($(wc -c < "$out") bytes)" >&2
