// Building a sequence: random start state and data page, forms drawn by weight, the undefined-flag
import X86
// bookkeeping (per instruction, joined over both paths of every forward branch), and the layout
// (branch displacements and RIP-relative displacements patched once addresses are known).

extension Generator {
    /// A sequence of `groups` forms (each with its preludes); a fault form ends it with
    /// probability `faultP`.
    mutating func build(groups: Int, forms: [Form], faultP: Double = 0.015) -> Sequence {
        var gprs = (0..<16).map { _ in rng.value() }
        gprs[4] = GuestImage.data + 0x800
        rspLo = 0x800; rspHi = 0x800
        let rflags: UInt64 = 0x202 | (rng.next() & Flag.arith) | (rng.chance(0.2) ? Flag.df : 0)
        var page = [UInt8](repeating: 0, count: GuestImage.dataSize)
        page.withUnsafeMutableBytes { b in
            for k in stride(from: 0, to: GuestImage.dataSize, by: 8) { b.storeBytes(of: rng.next(), toByteOffset: k, as: UInt64.self) }
        }
        initialData = page
        let total = forms.reduce(0) { $0 + $1.weight }
        let faultTotal = faultForms.reduce(0) { $0 + $1.weight }

        var out: [Insn] = []
        var maskBefore: [UInt64] = []
        var mask: UInt64 = 0
        var joins: [Int: UInt64] = [:]
        var rspJoins: [Int: (Int, Int)] = [:]
        let definerRegs = [0, 1, 2, 3, 5, 6, 7]

        func pick(_ list: [Form], _ sum: Int, _ rng: inout RNG) -> Form {
            var w = rng.below(sum)
            for f in list { if w < f.weight { return f }; w -= f.weight }
            return list[0]
        }

        for gi in 0..<groups {
            group = gi
            if let j = joins.removeValue(forKey: gi) { mask |= j }
            if let r = rspJoins.removeValue(forKey: gi) { rspLo = min(rspLo, r.0); rspHi = max(rspHi, r.1) }
            let last = gi == groups - 1 && rng.chance(faultP * Double(groups))
            var list: [Insn]? = nil
            var tries = 0
            while list == nil && tries < 20 {
                let f = last ? pick(faultForms, faultTotal, &rng) : pick(forms, total, &rng)
                list = f.emit(&self)
                tries += 1
            }
            guard var insns = list else { continue }
            var k = 0
            while k < insns.count {
                var ins = insns[k]
                ins.group = gi
                if ins.invalid { maskBefore.append(mask); out.append(ins); k += 1; continue }
                guard let info = ZydisInfo.info(ins.bytes), info.length == ins.bytes.count else {
                    rejects.append("\(ins.form): \(ins.bytes.map { hex($0, 2) }.joined(separator: " "))")
                    insns.remove(at: k)
                    continue
                }
                if ins.form == "fnstsw" && (mask >> 32) != 0 {
                    // It would store undefined condition codes: define C0–C3 first (FTST).
                    out.append(Insn(bytes: [0xD9, 0xE4], form: "definer", group: gi))
                    maskBefore.append(mask)
                    mask &= 0xFFFF_FFFF
                }
                if info.tested & mask != 0 {
                    // It would read an undefined flag: define all six first (cmp r64, r64).
                    let a = rng.pick(definerRegs), b = rng.pick(definerRegs)
                    out.append(Insn(bytes: [0x48, 0x39, 0xC0 | UInt8(b) << 3 | UInt8(a)], form: "definer", group: gi))
                    maskBefore.append(mask)
                    mask &= ~Flag.arith
                }
                maskBefore.append(mask)
                let (u, w) = ins.dynFlags ?? (info.undefined, info.written)
                mask = (mask & ~w) | u
                // FSW condition codes ride in bits 32+ of the same mask.
                mask = (mask & ~(info.fswWritten << 32)) | info.fswUndefined << 32
                if let t = ins.jumpGroup {
                    joins[t, default: 0] |= mask
                    let r = rspJoins[t] ?? (rspLo, rspHi)
                    rspJoins[t] = (min(r.0, rspLo), max(r.1, rspHi))
                }
                out.append(ins)
                k += 1
            }
            if last { break }
        }
        for (_, j) in joins { mask |= j }

        // Layout.
        var offsets: [Int] = []
        var groupStart: [Int: Int] = [:]
        var pc = 0
        for ins in out {
            offsets.append(pc)
            if groupStart[ins.group] == nil { groupStart[ins.group] = pc }
            pc += ins.bytes.count
        }
        let end = pc
        for i in out.indices {
            let next = offsets[i] + out[i].bytes.count
            if let t = out[i].jumpGroup {
                let target = groupStart[t] ?? end
                var d = target - next
                let n = out[i].bytes.count
                let rel8 = out[i].bytes[n - 1] == 0 && (out[i].bytes.count == 2 || out[i].bytes[0] == 0x67) && !(out[i].bytes.count >= 5 && out[i].bytes[n - 5] != 0)
                let short = out[i].bytes.count <= 3 && !(out[i].bytes[0] == 0x0F)
                _ = rel8
                if short {
                    if d > 127 { d = 0 }   // out of reach: a branch to the next instruction (masks stay conservative)
                    out[i].bytes[n - 1] = UInt8(truncatingIfNeeded: d)
                } else {
                    for b in 0..<4 { out[i].bytes[n - 4 + b] = UInt8(truncatingIfNeeded: d >> (8 * b)) }
                }
            }
            if let (at, target) = out[i].ripRel {
                let d = Int64(target) - Int64(GuestImage.code) - Int64(next)
                for b in 0..<4 { out[i].bytes[at + b] = UInt8(truncatingIfNeeded: d >> Int64(8 * b)) }
            }
        }
        var start = StartState(gprs: gprs, rflags: rflags)
        if withFPU {
            start.fpu.xmm = (0..<32).map { _ in rng.value() }
            // R0–R7 (all tagged empty) hold random significands, which the MMX registers alias,
            // and TOP is random (every MMX instruction sets it to 0). Sign|exponent 3FFFH: once an
            // MMX instruction tags them valid, x87 instructions see numbers in [1, 2) (J = 1) or
            // unnormals (J = 0, unsupported: #IA). Not exponent 0: denormal and pseudo-denormal
            // operands reach a known x87 core gap (FPREM/FPREM1 take C0–C3 from the host's run,
            // and the AMD host leaves them unchanged for a denormal operand) that is not MMX's.
            for p in 0..<8 { start.fpu.st[2 * p] = rng.value(); start.fpu.st[2 * p + 1] = 0x3FFF }
            if rng.chance(0.5) { start.fpu.fsw = UInt16(rng.below(8)) << 11 }
        }
        var seq = Sequence(insns: out, start: start, data: initialData)
        seq.code = out.flatMap(\.bytes)
        seq.offsets = offsets
        seq.maskBefore = maskBefore
        seq.maskEnd = mask
        return seq
    }
}
