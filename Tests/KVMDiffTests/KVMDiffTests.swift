// Random differential testing of the X86 core against the host CPU through /dev/kvm (issue 3, item 6).
//
// Each sequence (Generator/Forms/Builder) runs from the same state on KVM (PVM: CPL3 code runs
// natively on the host's AMD core) and on our core; compared: the 16 GPRs, RIP and RFLAGS (the
// flags the SDM leaves undefined masked, from Zydis's per-instruction tables), the data page, the
// vector and error code (and CR2) of the exception that ended the run — the final HLT's #GP(0) or
// an earlier fault. On a mismatch, prefixes are rerun to find the first divergent instruction;
// it is printed with its bytes, disassembly and both states (differing registers only).
//
// VMXEMU_KVM_SEED / VMXEMU_KVM_COUNT choose the seed and the number of sequences (CI: the fixed
// default seed, 20 000 sequences). Without a usable /dev/kvm or Zydis the test fails under
// VMXEMU_REQUIRE_ORACLES=1 (CI) and is skipped with the reason otherwise (TestSupport/Oracle.swift).

import TestSupport
import Foundation
import Testing
@testable import X86

// MARK: - The allow-list: vendor differences (the silicon is AMD, we model Intel)

struct AllowEntry {
    let name: String
    /// The SDM rule (325462-077US) or the host's documented behaviour that makes it no bug.
    let why: String
    /// The run (`runDiff` label) that must need it: an entry it never uses fails that run.
    let run: String
}

/// Every entry is a documented vendor difference (the silicon is AMD, we model Intel); the
/// instruction-level predicates live with the forms (`Insn.allow`) and in the functions below.
let allowList: [AllowEntry] = [
    // (BSF/BSR with a zero source — destination undefined in the SDM, unchanged on AMD — had an
    // entry; narrowed to "only the destination differs", it explained nothing in 2 × 20 000
    // sequences (fixed and fresh seed): no divergence there, so it went. A register-only
    // allowance is expressed with `Insn.allow` and `allowedRegister`; the run then checks the
    // rest of the sequence from the host's state after that instruction.)
    // (Found by this test and fixed in the core: `XADD m, r` with r the base or index of m stored
    // the sum at an address computed from the updated register — DataMovementTests.xadd.)
    // x87 (second run only): see `x87ConditionCodeAllowance` below.
    AllowEntry(name: "x87-cc-after-stack-fault",
               why: "FSW C0/C1/C2/C3 after a masked x87 stack fault (FLD ST(i), FPREM/FPREM1 on empty registers): SDM Vol. 2A \"FLD—Load Floating Point Value\" "
                   + "(FPU Flags Affected: \"C0, C2, C3 Undefined\"), Vol. 1 §8.5.1.1 \"Stack Overflow or Underflow Exception (#IS)\" (C1 tells overflow from underflow; which one an FLD with both reports is not defined)",
               run: "x87+sse+mmx"),
    AllowEntry(name: "x87-c1-fcmov-fcomi",
               why: "C1 after FCMOVcc/FCOMI/FUCOMI(P) with no stack fault: SDM Vol. 2A \"FCMOVcc—Floating-Point Conditional Move\" and \"FCOMI/FCOMIP/FUCOMI/FUCOMIP—Compare "
                   + "Floating-Point Values and Set EFLAGS\" (FPU Flags Affected) define C1 only for a stack underflow (\"Set to 0 if stack underflow occurred\"); without one AMD keeps C1, we clear it",
               run: "x87+sse+mmx"),
    AllowEntry(name: "x87-cc-fprem-nan-result",
               why: "FSW C0–C3 after FPREM/FPREM1 with a NaN result (a NaN operand, or a masked invalid operation without a stack fault): SDM Vol. 2A \"FPREM\" defines them from the quotient of a computed remainder, and there is none; AMD leaves them as they were, the core takes them from its host run",
               run: "x87+sse+mmx"),
    // MMX (second run): see `mmxTransitionAllowance` below.
    AllowEntry(name: "cvtpi2ps-m64-no-mmx-transition",
               why: "CVTPI2PS xmm, m64: the SDM (Vol. 2A \"CVTPI2PS\") makes every form switch to MMX operation (TOP 0, tags valid); the AMD host does not for a memory source",
               run: "x87+sse+mmx"),
    // (The second run also found DE reported alongside a higher-priority invalid operation —
    // `fmul dword [m]` with ST(0) empty: hardware FSW 0x0041, ours 0x0043 — fixed in 90c2aee.)
]

/// The x87 entries: a divergence that is only in FSW condition codes the SDM does not pin down.
func x87ConditionCodeAllowance(_ d: Diff, kvm: EndState, core: EndState, form: String, bytes: [UInt8] = []) -> String? {
    guard d.lines.count == 1, d.lines[0].hasPrefix("fsw:"), let a = kvm.fpu?.fsw, let b = core.fpu?.fsw else { return nil }
    let x = a ^ b
    // After a masked stack fault (IE and SF set on both) the condition codes other than the
    // C1 = overflow/underflow rule are unspecified; which of overflow/underflow wins for FLD ST(i)
    // with both conditions, and what FPREM/FPREM1 leave in C0/C2/C3, differ between AMD and us.
    if a & 0x41 == 0x41 && b & 0x41 == 0x41 && x & ~0x4700 == 0 { return "x87-cc-after-stack-fault" }
    // FCMOVcc and FCOMI/FUCOMI(P) without a stack fault: the SDM only says "C1 set to 0 if stack
    // underflow occurred"; AMD leaves C1 unchanged otherwise, our core clears it.
    if x == 0x200 && form == "fcomi/fcmov/ffree" { return "x87-c1-fcmov-fcomi" }
    // FPREM/FPREM1 with a NaN result and no stack fault (SF clear on both; the same NaN in ST(0)
    // on both): the registers MMX instructions leave valid (exponent FFFFH: NaNs, infinities,
    // pseudo-NaNs) reach FPREM as NaN or unsupported operands, and the SDM gives C0–C3 only for
    // a computed remainder.
    if let fa = kvm.fpu, let fb = core.fpu, a & 0x40 == 0, b & 0x40 == 0, x & ~0x4700 == 0,
       bytes == [0xD9, 0xF8] || bytes == [0xD9, 0xF5],
       fa.st[0] == fb.st[0], fa.st[1] == fb.st[1], fa.st[1] & 0x7FFF == 0x7FFF, fa.st[0] << 1 != 0 {
        return "x87-cc-fprem-nan-result"
    }
    // (FPREM/FPREM1 with a NaN result — a masked invalid operation or a NaN operand — left C0–C3
    // as they were; the core now clears them as silicon does, so that needs no allowance.)
    return nil
}

/// The MMX entry: CVTPI2PS with a memory source where the only difference is that the host left
/// TOP and the tags alone (our core, following the SDM, made the x87-to-MMX transition: TOP 0,
/// every tag valid). Everything else — the converted values, MXCSR, the other FSW bits, the
/// register contents — must agree; the register comparison is redone in physical order (sign and
/// exponent only for the registers the host has valid, as `compare` does).
func mmxTransitionAllowance(_ d: Diff, kvm: EndState, core: EndState, form: String, bytes: [UInt8]) -> String? {
    guard form == "cvtpi2ps/pd", let a = kvm.fpu, let b = core.fpu else { return nil }
    // The memory form of 0F 2A without a 66 prefix: ModRM.mod != 11.
    guard let k = bytes.firstIndex(of: 0x0F), k + 2 < bytes.count, bytes[k + 1] == 0x2A, !bytes[..<k].contains(0x66),
          bytes[k + 2] >> 6 != 3 else { return nil }
    // FSW apart from TOP and C0–C3 (which `compare` has already checked where they are defined).
    let rest: UInt16 = ~(0x3800 | 0x4700)
    guard b.fsw & 0x3800 == 0, b.ftw == 0xFF, a.fsw & rest == b.fsw & rest, a.fcw == b.fcw, a.mxcsr == b.mxcsr, a.xmm == b.xmm else { return nil }
    let topA = Int((a.fsw >> 11) & 7)
    for p in 0..<8 {
        let i = (p - topA) & 7      // the host's ST(i) for physical Rp; ours is ST(p) (TOP 0)
        if a.st[2 * i] != b.st[2 * p] { return nil }
        if a.ftw & (1 << UInt8(p)) != 0 && a.st[2 * i + 1] != b.st[2 * p + 1] { return nil }
    }
    let ok = d.lines.allSatisfy { $0.hasPrefix("fsw:") || $0.hasPrefix("abridged tag:") || $0.hasPrefix("st") || $0.hasPrefix("mm") }
    return ok ? "cvtpi2ps-m64-no-mmx-transition" : nil
}

// MARK: - Comparison

struct Diff {
    var lines: [String]
    var isEmpty: Bool { lines.isEmpty }
}

func compare(kvm a: EndState, core b: EndState, undefinedFlags mask: UInt64, undefinedFSW: UInt16 = 0) -> Diff {
    var d: [String] = []
    if let x = a.abnormal ?? b.abnormal {
        if a.abnormal != b.abnormal { d.append("run: kvm \(a.abnormal ?? "ok") / core \(b.abnormal ?? "ok")") }
        else { d.append("both: \(x)") }
        return Diff(lines: d)
    }
    if a.vector != b.vector { d.append("vector: kvm \(a.vector) core \(b.vector)") }
    else {
        if a.errorCode != b.errorCode { d.append("error code: kvm \(a.errorCode.map { "0x" + hex($0) } ?? "-") core \(b.errorCode.map { "0x" + hex($0) } ?? "-")") }
        if a.vector == 14 && a.cr2 != b.cr2 { d.append("cr2: kvm 0x\(hex(a.cr2)) core 0x\(hex(b.cr2))") }
    }
    if a.rip != b.rip { d.append("rip: kvm 0x\(hex(a.rip)) core 0x\(hex(b.rip))") }
    let fm = ~mask
    if a.rflags & fm != b.rflags & fm {
        d.append("rflags: kvm 0x\(hex(a.rflags)) core 0x\(hex(b.rflags)) (masked 0x\(hex(mask)), differ 0x\(hex((a.rflags ^ b.rflags) & fm)))")
    }
    for r in 0..<16 where a.gprs[r] != b.gprs[r] {
        d.append("\(Reg.names64[r]): kvm 0x\(hex(a.gprs[r])) core 0x\(hex(b.gprs[r]))")
    }
    if a.data != b.data {
        var shown = 0
        for o in 0..<a.data.count where a.data[o] != b.data[o] {
            if shown < 8 { d.append("data[+0x\(hex(o))]: kvm 0x\(hex(a.data[o], 2)) core 0x\(hex(b.data[o], 2))") }
            shown += 1
        }
        if shown > 8 { d.append("… \(shown) data bytes differ") }
    }
    if let fa = a.fpu, let fb = b.fpu, fa != fb {
        if fa.fcw != fb.fcw { d.append("fcw: kvm 0x\(hex(fa.fcw)) core 0x\(hex(fb.fcw))") }
        if fa.fsw & ~undefinedFSW != fb.fsw & ~undefinedFSW { d.append("fsw: kvm 0x\(hex(fa.fsw)) core 0x\(hex(fb.fsw)) (undefined C bits 0x\(hex(undefinedFSW)))") }
        if fa.ftw != fb.ftw { d.append("abridged tag: kvm 0x\(hex(fa.ftw)) core 0x\(hex(fb.ftw))") }
        let top = Int((fa.fsw >> 11) & 7)
        for i in 0..<8 where fa.ftw & (1 << UInt8((top + i) & 7)) != 0 {
            if fa.st[2 * i] != fb.st[2 * i] || fa.st[2 * i + 1] != fb.st[2 * i + 1] {
                d.append("st\(i): kvm \(hex(fa.st[2 * i + 1], 4)):\(hex(fa.st[2 * i], 16)) core \(hex(fb.st[2 * i + 1], 4)):\(hex(fb.st[2 * i], 16))")
            }
        }
        // The MMX registers are the significands of R0–R7, compared whatever the tags say (EMMS
        // empties the tags but keeps the values; with equal TOPs ST(i) and Rp pair up).
        for i in 0..<8 where fa.ftw & (1 << UInt8((top + i) & 7)) == 0 && fa.st[2 * i] != fb.st[2 * i] {
            d.append("mm\((top + i) & 7) (empty tag): kvm \(hex(fa.st[2 * i], 16)) core \(hex(fb.st[2 * i], 16))")
        }
        if fa.mxcsr != fb.mxcsr { d.append("mxcsr: kvm 0x\(hex(fa.mxcsr)) core 0x\(hex(fb.mxcsr))") }
        for k in 0..<16 where fa.xmm[2 * k] != fb.xmm[2 * k] || fa.xmm[2 * k + 1] != fb.xmm[2 * k + 1] {
            d.append("xmm\(k): kvm \(hex(fa.xmm[2 * k + 1], 16))\(hex(fa.xmm[2 * k], 16)) core \(hex(fb.xmm[2 * k + 1], 16))\(hex(fb.xmm[2 * k], 16))")
        }
    }
    return Diff(lines: d)
}

// MARK: - The driver

final class DiffRunner {
    let kvm: KVMRunner
    let core = CoreRunner()
    var sequences = 0, instructions = 0, mismatches = 0
    var allowed: [String: Int] = [:]
    var endedBy: [Int: Int] = [:]
    var kvmErrors = 0
    /// Sequences checked on past a register-only allowance (`Insn.allowedRegister`).
    var resumed = 0
    /// The self-test's planted bug: our core runs NOPs in place of this instruction.
    var plantedNOP: Int? = nil
    /// The first divergent instruction of every mismatch (reports keep only the first ten).
    var firstDivergent: [Int] = []
    var reports: [String] = []
    var rejects: Set<String> = []

    init(_ m: KVMMachine) { kvm = KVMRunner(m) }

    var kvmTime: UInt64 = 0, coreTime: UInt64 = 0
    /// VMXEMU_KVM_TRACE=1: each run's code on stderr before our core runs it (to find a crash).
    let trace = ProcessInfo.processInfo.environment["VMXEMU_KVM_TRACE"] != nil
    func run(_ seq: Sequence, code: [UInt8], withFPU: Bool) -> (EndState, EndState) {
        if trace {
            var t = "kvm-diff trace: \(code.count) bytes\n"
            var o = 0
            for x in seq.insns where o < code.count { t += "  \(ZydisInfo.disassemble(x.bytes))\n"; o += x.bytes.count }
            FileHandle.standardError.write(t.data(using: .utf8)!)
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let a = kvm.run(code: code, data: seq.data, start: seq.start, withFPU: withFPU)
        let t1 = DispatchTime.now().uptimeNanoseconds
        var coreCode = code
        if let t = plantedNOP, t < seq.insns.count, seq.offsets[t] < coreCode.count {
            // The planted bug (self-test): our core skips instruction t.
            for j in seq.offsets[t]..<min(seq.offsets[t] + seq.insns[t].bytes.count, coreCode.count) { coreCode[j] = 0x90 }
        }
        let b = core.run(code: coreCode, data: seq.data, start: seq.start, withFPU: withFPU)
        kvmTime += t1 - t0; coreTime += DispatchTime.now().uptimeNanoseconds - t1
        return (a, b)
    }

    /// Run one sequence; on a mismatch bisect and record a report (or an allow-list hit). After
    /// a register-only allowance (an instruction whose `allow` names an entry and whose
    /// divergence is in `allowedRegister` alone; none today — BSF/BSR with a zero source had one)
    /// the rest of the sequence is still checked: both machines resume from
    /// the host's state after that instruction (the instructions before it replaced by NOPs, so
    /// every offset stays the same).
    func check(_ seq: Sequence, seed: UInt64, index: Int, withFPU: Bool) {
        sequences += 1
        instructions += seq.insns.count
        var code = seq.code, data = seq.data, start = seq.start
        var from = 0                   // instructions before this one are NOPs in `code`
        func prefix(_ k: Int) -> [UInt8] { Array(code[0..<(k < seq.insns.count ? seq.offsets[k] : code.count)]) }
        func asEnd(_ st: StartState, _ d: [UInt8]) -> EndState {
            EndState(vector: -1, errorCode: nil, cr2: 0, rip: GuestImage.code, rflags: st.rflags, gprs: st.gprs, data: d,
                     fpu: withFPU ? st.fpu : nil, abnormal: nil)
        }
        var ended = false
        while true {
            var s = seq
            s.data = data; s.start = start
            let (a, b) = run(s, code: code, withFPU: withFPU)
            if a.abnormal != nil && b.abnormal == nil && a.abnormal!.hasPrefix("KVM exit") { kvmErrors += 1; return }
            let mk = seq.mask(at: a.rip, prefix: seq.insns.count)
            let d = compare(kvm: a, core: b, undefinedFlags: mk & 0xFFFF_FFFF, undefinedFSW: UInt16(truncatingIfNeeded: mk >> 32))
            if !ended { endedBy[a.vector, default: 0] += 1; ended = true }
            if d.isEmpty { return }
            // Bisect: the shortest failing prefix (prefix runs end at the HLT padding).
            var first = seq.insns.count - 1
            var diffAt = d
            var pairAt = (a, b)
            var prevCore: EndState? = nil
            for k in (from + 1)...seq.insns.count {
                let (pa, pb) = run(s, code: prefix(k), withFPU: withFPU)
                let pm = seq.mask(at: pa.rip, prefix: k)
                let pd = compare(kvm: pa, core: pb, undefinedFlags: pm & 0xFFFF_FFFF, undefinedFSW: UInt16(truncatingIfNeeded: pm >> 32))
                if !pd.isEmpty { first = k - 1; diffAt = pd; pairAt = (pa, pb); break }
                prevCore = pb
            }
            let ins = seq.insns[first]
            let pre = prevCore ?? asEnd(start, data)
            // A register-only allowance: only that register may differ (every other register,
            // flag and byte must agree); then continue after it from the host's state.
            if let allow = ins.allow, let dest = ins.allowedRegister, let name = allow(pre),
               diffAt.lines.count == 1, diffAt.lines[0].hasPrefix("\(Reg.names64[dest]): ") {
                allowed[name, default: 0] += 1
                let next = first + 1
                let k = pairAt.0
                guard next < seq.insns.count else { return }
                guard k.vector == 13, k.rip == GuestImage.code + UInt64(seq.offsets[next]) else {
                    // (The prefix run did not stop at the HLT after it: nothing to resume from.)
                    mismatches += 1
                    reports.append("kvm-diff: seed 0x\(hex(seed)) sequence \(index): cannot resume after the allowed \(ins.form) #\(first): the host stopped with vector \(k.vector) at 0x\(hex(k.rip))")
                    return
                }
                for j in 0..<seq.offsets[next] { code[j] = 0x90 }
                data = k.data
                start = StartState(gprs: k.gprs, rflags: k.rflags & ~0x10000, fpu: k.fpu ?? start.fpu)   // (RF of the #GP frame cleared)
                from = next
                resumed += 1
                continue
            }
            let before: EndState? = prevCore
            if let name = x87ConditionCodeAllowance(diffAt, kvm: pairAt.0, core: pairAt.1, form: ins.form, bytes: ins.bytes)
                ?? mmxTransitionAllowance(diffAt, kvm: pairAt.0, core: pairAt.1, form: ins.form, bytes: ins.bytes) {
                allowed[name, default: 0] += 1
                return
            }
            mismatches += 1
            firstDivergent.append(first)
            if reports.count < 10 {
                var r = "kvm-diff MISMATCH: seed 0x\(hex(seed)) sequence \(index): first divergent instruction #\(first) of \(seq.insns.count) [\(ins.form)]\n"
                r += "  bytes: \(ins.bytes.map { hex($0, 2) }.joined(separator: " "))   \(ZydisInfo.disassemble(ins.bytes))\n"
                r += "  ended: kvm vector \(pairAt.0.vector) at 0x\(hex(pairAt.0.rip)), core vector \(pairAt.1.vector) at 0x\(hex(pairAt.1.rip))\n"
                for l in diffAt.lines { r += "  \(l)\n" }
                if let pre = before {
                    r += "  state before it (both agree): " + (0..<16).map { "\(Reg.names64[$0])=\(hex(pre.gprs[$0]))" }.joined(separator: " ") + " rflags=\(hex(pre.rflags))\n"
                } else {
                    r += "  start\(from > 0 ? " (resumed after #\(from - 1))" : ""): " + (0..<16).map { "\(Reg.names64[$0])=\(hex(start.gprs[$0]))" }.joined(separator: " ") + " rflags=\(hex(start.rflags))\n"
                }
                r += "  sequence:\n"
                for (j, x) in seq.insns.enumerated() {
                    r += "   \(j == first ? ">" : " ")\(String(j).padding(toLength: 3, withPad: " ", startingAt: 0)) \(x.bytes.map { hex($0, 2) }.joined(separator: " ").padding(toLength: 44, withPad: " ", startingAt: 0)) \(ZydisInfo.disassemble(x.bytes))\n"
                }
                reports.append(r)
            }
            return
        }
    }
}

func envUInt(_ name: String) -> UInt64? {
    guard let s = ProcessInfo.processInfo.environment[name] else { return nil }
    if s.hasPrefix("0x") { return UInt64(s.dropFirst(2), radix: 16) }
    return UInt64(s)
}

@Suite(.serialized, .requires(.kvm, .zydis)) struct KVMDiffTests {
    static let defaultSeed: UInt64 = 0x5EED_0F_C0DE_2026
    static let defaultCount = 20_000
    static let groups = 16

    @Test("random CPL3 integer sequences: our core vs the host CPU through KVM")
    func integerSequences() throws {
        try runDiff(forms: integerForms + bmiForms, label: "integer", withFPU: false)
    }

    @Test("random CPL3 sequences with x87 and SSE: our core vs the host CPU through KVM")
    func floatingPointSequences() throws {
        try runDiff(forms: integerForms + sseForms + x87Forms + mmxForms, label: "x87+sse+mmx", withFPU: true,
                    count: Int(envUInt("VMXEMU_KVM_FP_COUNT") ?? 5_000))
    }

    func runDiff(forms: [Form], label: String, withFPU: Bool, count fixedCount: Int? = nil) throws {
        // This module's own dlopen of Zydis (the shim's state is per module).
        if let why = ZydisInfo.unavailableReason { try Oracle.zydis.unusable(why) }
        let (m, why) = KVMMachine.open(ramSize: GuestImage.ramSize)
        guard let m else { try Oracle.kvm.unusable(why ?? "KVMMachine.open failed") }
        let count = fixedCount ?? Int(envUInt("VMXEMU_KVM_COUNT") ?? UInt64(Self.defaultCount))
        var used: [String: Int] = [:]
        // The fixed seed (reproducible), then the run's fresh one (VMXEMU_FRESH_SEED, printed).
        for seed in RandomSeeds.seeds(fixed: envUInt("VMXEMU_KVM_SEED") ?? Self.defaultSeed) {
            let runner = DiffRunner(m)
            let t0 = Date()
            var rejects: [String] = []
            for n in 0..<count {
                let seq = Self.sequence(seed: seed, index: n, forms: forms, withFPU: withFPU, rejects: &rejects)
                runner.check(seq, seed: seed, index: n, withFPU: withFPU)
                if n > 0 && n % 100_000 == 0 {
                    print("kvm-diff[\(label)]: \(n) sequences, \(runner.mismatches) mismatches, \(Int(Date().timeIntervalSince(t0))) s")
                }
            }
            let dt = Date().timeIntervalSince(t0)
            let allowed = runner.allowed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let ends = runner.endedBy.sorted { $0.key < $1.key }.map { "#\($0.key):\($0.value)" }.joined(separator: " ")
            print("kvm-diff[\(label)]: seed 0x\(hex(seed)): \(runner.sequences) sequences, \(runner.instructions) instructions, "
                  + "\(runner.mismatches) mismatches (allow-listed: \(allowed.isEmpty ? "none" : allowed); "
                  + "checked on past a register-only allowance: \(runner.resumed)); "
                  + "KVM internal errors \(runner.kvmErrors); ended by vector \(ends); \(String(format: "%.1f", dt)) s "
                  + "(KVM \(runner.kvmTime / 1_000_000) ms, core \(runner.coreTime / 1_000_000) ms)")
            for r in runner.reports { print(r) }
            #expect(rejects.isEmpty, "seed 0x\(hex(seed)): generator produced bytes Zydis rejects: \(Set(rejects).sorted().prefix(20))")
            #expect(runner.mismatches == 0, "\(runner.mismatches) unexplained mismatches with seed 0x\(hex(seed)) (reproduce: VMXEMU_KVM_SEED=0x\(hex(seed)); first reports above)")
            #expect(runner.kvmErrors * 100 <= max(1, runner.sequences), "too many KVM internal errors: \(runner.kvmErrors)")
            for (k, v) in runner.allowed { used[k, default: 0] += v }
        }
        // An allow-list entry this run should need but did not is stale (as the Bochs comparison's).
        for e in allowList where e.run == label && used[e.name] == nil {
            Issue.record("allow-list entry \(e.name) explained nothing in the \(label) run: remove it (or its predicate no longer matches)")
        }
    }

    /// Sequence `n` of a seed's run.
    static func sequence(seed: UInt64, index n: Int, forms: [Form], withFPU: Bool, rejects: inout [String]) -> Sequence {
        var mix = RNG(seed: seed ^ (UInt64(n) &* 0x9E37_79B9_7F4A_7C15))
        var g = Generator(seed: mix.next())
        g.withFPU = withFPU
        let seq = g.build(groups: groups, forms: forms)
        rejects += g.rejects
        return seq
    }

    /// The differential run must be able to fail, and must name the right instruction: with a
    /// planted bug — our core skips instruction t (NOPs in its place) — most sequences mismatch,
    /// and every mismatch's bisection names exactly t (none is allow-listed away).
    @Test("planted bug: a skipped instruction is found and named by the bisection")
    func plantedBugIsFound() throws {
        if let why = ZydisInfo.unavailableReason { try Oracle.zydis.unusable(why) }
        let (m, why) = KVMMachine.open(ramSize: GuestImage.ramSize)
        guard let m else { try Oracle.kvm.unusable(why ?? "KVMMachine.open failed") }
        let runner = DiffRunner(m)
        var rejects: [String] = []
        var wrong: [String] = []
        let n = 300
        var rng = RNG(seed: 0x91A7_7ED0)
        for k in 0..<n {
            let seq = Self.sequence(seed: Self.defaultSeed, index: k, forms: integerForms + bmiForms, withFPU: false, rejects: &rejects)
            let t = Int(rng.next() % UInt64(seq.insns.count))
            runner.plantedNOP = t
            let before = runner.firstDivergent.count
            runner.check(seq, seed: Self.defaultSeed, index: k, withFPU: false)
            if runner.firstDivergent.count > before, runner.firstDivergent.last != t {
                wrong.append("sequence \(k): planted at #\(t), bisection named #\(runner.firstDivergent.last!)")
            }
        }
        print("kvm-diff planted bug: \(runner.mismatches) of \(n) sequences mismatch (allow-listed: \(runner.allowed)), \(wrong.count) named the wrong instruction")
        // Not every sequence reaches t (a fifth end earlier with #DE, #UD, #SS or #PF), and some
        // instructions change nothing in the state they meet (a compare whose flags are already
        // set so): 228 of 300 mismatch with this seed; fewer than two thirds is a broken runner.
        #expect(runner.mismatches >= n * 2 / 3, "a skipped instruction went unnoticed in \(n - runner.mismatches) of \(n) sequences")
        #expect(wrong.isEmpty, "\(wrong.prefix(10).joined(separator: "\n"))")
        #expect(runner.allowed.isEmpty, "planted divergences were allow-listed: \(runner.allowed)")
    }
}
