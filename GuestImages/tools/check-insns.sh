#!/bin/sh
# check-insns.sh IMAGE.elf — fail if the image contains any SSE, AVX, MMX or
# x87 instruction.  vmxemu's CPU core implements none of them yet, and the
# guest images must run on it; gcc could sneak them in (vectorised loops,
# struct copies, varargs register saves) if a flag were dropped.
#
# It looks at every disassembled instruction: operands naming an XMM/YMM/ZMM,
# MMX or x87 register, and mnemonics of the x87 (f...), MXCSR and
# FXSAVE/XSAVE families.
set -eu
image=$1
bad=$(objdump -d --no-show-raw-insn "$image" |
    awk -F'\t' 'NF >= 2 && $1 ~ /^ *[0-9a-f]+:$/ { print $1 "\t" $2 }' |
    grep -E '%[xyz]mm[0-9]|%mm[0-7]|%st|	(f[a-z0-9]+|v(add|sub|mul|div|mov|xor|and|or|p)[a-z0-9]*|[a-z]*mxcsr|x?save|x?rstor|emms)( |$)' || true)
if [ -n "$bad" ]; then
    echo "check-insns: $image contains SSE/AVX/MMX/x87 instructions:" >&2
    echo "$bad" | head -20 >&2
    exit 1
fi
