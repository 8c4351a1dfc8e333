// Rows that look at one context's address space: `ctx` (which context the REPL inspects: the VMM
// in VMX root operation, or a guest), `disas` (the emulator's own decoder, Intel syntax) and
// `xlate` (the page walk of the context's linear address). A context that is not on the CPU is
// read from the VMCS: the host-state area of the current VMCS for the VMM while a guest runs, a
// guest's guest-state area while the VMM runs — as gdb's processes do (docs/DESIGN.md, "The gdb context model").

import GDBRemote
import Machine
import X86

extension DebuggerCommands {
    static let contextRows: [DebuggerCommand] = [
        DebuggerCommand("ctx", arguments: "[root|guest [PID]|cpu]",
                        summary: "which context regs, x, disas and xlate inspect: the VMM (root), a guest (from its VMCS guest-state area when not on the CPU), or whichever is on the CPU (default)",
                        details: "With no argument: the contexts (gdb processes: 1 = VMM, then one per guest VMCS) and the one selected.\nA context not on the CPU has only what its VMCS holds: RIP, RSP, RFLAGS, CRs, segments — not the other GPRs.",
                        examples: ["ctx", "ctx guest", "ctx root", "ctx cpu"], needs: .stoppedMachine,
                        completions: { $0.isEmpty ? ["root", "guest", "cpu"] : [] }) { ctx, args in ctxCommand(ctx, args) },
        DebuggerCommand("disas", aliases: ["disassemble"], arguments: "[ADDR|SYMBOL|rip] [N]",
                        summary: "disassemble N instructions (default 10) at ADDR (default the selected context's RIP) with the emulator's own decoder, Intel syntax",
                        examples: ["disas", "disas rip 4", "disas guest_main 20"], needs: .stoppedMachine) { ctx, args in disas(ctx, args) },
        DebuggerCommand("xlate", arguments: "ADDR|SYMBOL|rip",
                        summary: "the page walk of a linear address in the selected context's address space (its CR3 from the VMCS when it is not on the CPU)",
                        examples: ["xlate rip", "ctx guest", "xlate 0x200000"], needs: .stoppedMachine) { ctx, args in xlate(ctx, args) },
    ]

    // MARK: Context selection

    /// The context a command inspects: pid, is it on the CPU, the VMM?, and its VMCS (guests).
    struct Selected {
        var pid: Int
        var onCPU: Bool
        var isVMM: Bool
        var vmcs: UInt64?
        var label: String { isVMM ? "VMM (context \(pid), VMX root)" : "guest (context \(pid)" + (vmcs.map { ", VMCS 0x\(hex($0))" } ?? "") + ")" }
    }

    static func selected(_ ctx: CommandContext, _ c: MachineController) -> Selected {
        let cur = c.currentContext
        let pid = ctx.session.context ?? cur
        let isVMM = pid == MachineController.vmmContext
        var vmcs = isVMM ? nil : c.vmcs(ofContext: pid)
        if !isVMM && vmcs == nil { vmcs = c.withStopped { m in m.cpu.vmx.currentVMCS == VMXState.invalidPointer ? nil : m.cpu.vmx.currentVMCS } ?? nil }
        return Selected(pid: pid, onCPU: pid == cur, isVMM: isVMM, vmcs: vmcs)
    }

    static func ctxCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard let c = ctx.controller else { return .usage("ctx: needs a machine") }
        let contexts = c.contexts()
        switch args.first?.lowercased() {
        case nil: break
        case "root"?, "vmm"?, "host"?:
            guard args.count == 1 else { return .usage("usage: ctx root") }
            ctx.session.context = MachineController.vmmContext
        case "cpu"?, "auto"?:
            guard args.count == 1 else { return .usage("usage: ctx cpu") }
            ctx.session.context = nil
        case "guest"?:
            if args.count == 2 {
                guard let n = parseNumber(args[1]), let pid = contexts.first(where: { $0.pid == Int(n) && !$0.isVMM })?.pid else {
                    return .usage("ctx guest: no guest context '\(args[1])' (\(contexts.filter { !$0.isVMM }.map { String($0.pid) }.joined(separator: ", ")))")
                }
                ctx.session.context = pid
            } else {
                guard args.count == 1 else { return .usage("usage: ctx guest [PID]") }
                let cur: UInt64? = c.withStopped { m in m.cpu.vmx.on && m.cpu.vmx.currentVMCS != VMXState.invalidPointer ? m.cpu.vmx.currentVMCS : nil } ?? nil
                guard let v = cur else { return .failure("ctx guest: no current VMCS, so no guest to look at (VMPTRLD has not run)") }
                ctx.session.context = contexts.first { $0.vmcs == v }?.pid ?? contexts.last!.pid
            }
        case let other?:
            return .usage("ctx: '\(other)' is not root, guest [PID] or cpu")
        }
        let sel = selected(ctx, c)
        let cur = c.currentContext
        var s = "inspecting: \(sel.label)\(sel.onCPU ? ", on the CPU" : ", not on the CPU: registers and paging from its VMCS \(sel.isVMM ? "host" : "guest")-state area")"
        s += ctx.session.context == nil ? " (follows the CPU: ctx cpu)\n" : "\n"
        var items: [JSONValue] = []
        for k in c.contexts() {
            let what = k.isVMM ? "VMM (VMX root)" : (k.vmcs.map { "guest, VMCS 0x\(hex($0))" } ?? "the next guest (not entered yet)")
            s += (k.pid == sel.pid ? " * " : "   ") + "context \(k.pid): " + what + (k.pid == cur ? "  [on the CPU]" : "") + "\n"
            items.append(.object([("pid", .int(Int64(k.pid))), ("vmm", .bool(k.isVMM)), ("vmcs", k.vmcs.map { .uint($0) } ?? .null),
                                  ("on_cpu", .bool(k.pid == cur)), ("selected", .bool(k.pid == sel.pid))]))
        }
        return CommandResult(s, data: .object([("selected", .int(Int64(sel.pid))), ("on_cpu", .bool(sel.onCPU)),
                                               ("follows_cpu", .bool(ctx.session.context == nil)), ("contexts", .array(items))]))
    }

    /// The selected context's registers when it is not on the CPU (from the VMCS), as `regs` shows them.
    static func offCPURegisters(_ ctx: CommandContext, _ c: MachineController, _ sel: Selected) -> CommandResult {
        guard let file = c.registers(context: sel.pid, layout: .x86_64) else { return .failure("regs: the machine is running") }
        var s = "\(sel.label): not on the CPU — from the \(sel.isVMM ? "host" : "guest")-state area of VMCS 0x\(hex(sel.isVMM ? (c.withStopped { $0.cpu.vmx.currentVMCS } ?? 0) : (sel.vmcs ?? 0)))\n"
        var items: [(String, JSONValue)] = []
        for name in ["rip", "rsp", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base", "cr0", "cr3", "cr4", "efer",
                     "gdtr_base", "gdtr_limit", "idtr_base", "idtr_limit", "dr7"] {
            guard let v = file.value(name) else { continue }
            s += name.padded(12) + "0x" + hex(v, 16) + (name == "rip" ? "  " + c.describe(v) : "") + "\n"
            items.append((name, .uint(v)))
        }
        s += "(the other general-purpose registers are not in the VMCS: \(sel.isVMM ? "the guest holds the CPU's registers now" : "the VMM saved them in its own memory, if anywhere"))\n"
        return CommandResult(s, data: .object([("context", .int(Int64(sel.pid))), ("on_cpu", .bool(false)), ("registers", .object(items))]))
    }

    /// Runs `body` with the CPU's paging state (CR0, CR3, CR4, EFER) set to the selected
    /// context's (from the VMCS when it is not on the CPU); restored afterwards.
    static func inContext<T>(_ sel: Selected, _ cpu: CPU, _ body: () -> T) -> T {
        guard !sel.onCPU else { return body() }
        let vmcs = sel.isVMM ? cpu.vmx.currentVMCS : (sel.vmcs ?? VMXState.invalidPointer)
        guard vmcs != VMXState.invalidPointer else { return body() }
        let saved = (cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer)
        func r(_ id: VMCSFieldID) -> UInt64 { cpu.vmcsRead(id, at: vmcs) }
        if sel.isVMM {
            let exitCtl = r(.exitControls)
            cpu.cr0 = r(.hostCR0); cpu.cr3 = r(.hostCR3); cpu.cr4 = r(.hostCR4)
            cpu.efer = exitCtl & UInt64(ExitCtl.loadEFER) != 0 ? r(.hostEFER)
                : (exitCtl & UInt64(ExitCtl.hostAddressSpaceSize) != 0 ? EFER.lme | EFER.lma : 0) | (cpu.efer & EFER.nxe)
        } else {
            let entry = r(.entryControls)
            cpu.cr0 = r(.guestCR0); cpu.cr3 = r(.guestCR3); cpu.cr4 = r(.guestCR4)
            cpu.efer = entry & UInt64(EntryCtl.loadEFER) != 0 ? r(.guestEFER)
                : (entry & UInt64(EntryCtl.ia32eModeGuest) != 0 ? EFER.lme | EFER.lma : 0) | (cpu.efer & EFER.nxe)
        }
        cpu.modeChanged()
        defer { (cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer) = saved; cpu.modeChanged() }
        return body()
    }

    /// The selected context's RIP (linear) and code size in bits.
    static func contextCode(_ sel: Selected, _ cpu: CPU) -> (rip: UInt64, bits: Int) {
        func bitsOf(cr0: UInt64, lma: Bool, ar: UInt32) -> Int {
            if cr0 & CR0.pe == 0 { return 16 }
            if lma && ar & SegAttr.l != 0 { return 64 }
            return ar & SegAttr.db != 0 ? 32 : 16
        }
        if sel.onCPU {
            let cs = cpu.segs[Seg.cs]
            return (linearRIP(cpu), bitsOf(cr0: cpu.cr0, lma: cpu.efer & EFER.lma != 0, ar: cs.attr))
        }
        let vmcs = sel.isVMM ? cpu.vmx.currentVMCS : (sel.vmcs ?? VMXState.invalidPointer)
        guard vmcs != VMXState.invalidPointer else { return (linearRIP(cpu), 64) }
        func r(_ id: VMCSFieldID) -> UInt64 { cpu.vmcsRead(id, at: vmcs) }
        if sel.isVMM {
            return (r(.hostRIP), r(.exitControls) & UInt64(ExitCtl.hostAddressSpaceSize) != 0 ? 64 : 32)
        }
        let lma = r(.entryControls) & UInt64(EntryCtl.ia32eModeGuest) != 0
        let bits = bitsOf(cr0: r(.guestCR0), lma: lma, ar: UInt32(truncatingIfNeeded: r(.guestCSAccessRights)))
        let rip = r(.guestRIP)
        return (bits == 64 ? rip : (r(.guestCSBase) &+ rip) & 0xFFFF_FFFF, bits)
    }

    // MARK: xlate

    static func xlate(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard let c = ctx.controller else { return .usage("xlate: needs a machine") }
        guard args.count == 1 else { return .usage("usage: xlate ADDR|SYMBOL|rip") }
        let sel = selected(ctx, c)
        let out: CommandResult? = c.withStopped { m in
            let cpu = m.cpu
            let lin: UInt64?
            if ["rip", "pc", "$pc", "$rip"].contains(args[0]) { lin = contextCode(sel, cpu).rip } else { lin = resolveAddress(args[0], machine: m) }
            guard let lin else { return .usage("xlate: '\(args[0])' is neither an address nor a symbol") }
            let (text, phys): (String, UInt64?) = inContext(sel, cpu) { (PageWalkReport.render(lin, cpu: cpu), cpu.debugTranslate(lin)) }
            var s = "\(sel.label)\(sel.onCPU ? "" : ": paging registers from its VMCS")\n" + text
            if !sel.isVMM { s += "  (no EPT on the modeled CPU: guest-physical = host-physical)\n" }
            return CommandResult(s, data: .object([("context", .int(Int64(sel.pid))), ("linear", .uint(lin)),
                                                   ("physical", phys.map { .uint($0) } ?? .null)]))
        }
        return out ?? .failure("xlate: the machine is running")
    }

    // MARK: disas

    static func disas(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard let c = ctx.controller else { return .usage("disas: needs a machine") }
        guard args.count <= 2 else { return .usage("usage: disas [ADDR|SYMBOL|rip] [N]") }
        var count = 10
        if args.count == 2 {
            guard let n = parseNumber(args[1]), n >= 1, n <= 500 else { return .usage("disas: N must be 1…500, not '\(args[1])'") }
            count = Int(n)
        }
        let sel = selected(ctx, c)
        let start: (UInt64, Int)?? = c.withStopped { m in
            let (rip, bits) = contextCode(sel, m.cpu)
            guard let a = args.first, !["rip", "pc", "$pc", "$rip"].contains(a) else { return (rip, bits) }
            guard let addr = resolveAddress(a, machine: m) else { return nil }
            return (addr, bits)
        }
        guard let s0 = start else { return .failure("disas: the machine is running") }
        guard let (first, bits) = s0 else { return .usage("disas: '\(args[0])' is neither an address nor a symbol") }
        var s = ""
        var items: [JSONValue] = []
        var addr = first
        for _ in 0..<count {
            let bytes = c.readMemory(context: sel.pid, address: addr, count: 15) ?? []
            if bytes.isEmpty { s += "0x\(hex(addr, 16)):  (not mapped)\n"; break }
            let (len, text) = Disassembler.format(bytes, at: addr, bits: bits)
            let sym = c.describe(addr)
            let label = sym.contains("<") ? String(sym[sym.firstIndex(of: "<")!...]) : ""
            let shown = bytes.prefix(len).map { hex($0, 2) }.joined(separator: " ")
            s += (addr == first && args.isEmpty ? "=> " : "   ") + "0x\(hex(addr, 16)) " + label.padded(label.isEmpty ? 0 : 24) + " " + shown.padded(30) + text + "\n"
            items.append(.object([("address", .uint(addr)), ("bytes", .string(shown)), ("text", .string(text)), ("length", .int(Int64(len)))]))
            addr &+= UInt64(len)
        }
        return CommandResult("\(sel.label), \(bits)-bit code\n" + s, data: .object([("context", .int(Int64(sel.pid))), ("bits", .int(Int64(bits))),
                                                                                   ("instructions", .array(items))]))
    }
}

/// Intel-syntax text for the decoder's `Insn` (a compact formatter: general-purpose, system, VMX,
/// x87 and SSE/MMX instructions (Disassembly+SIMD.swift); undecodable bytes print as `(bad)`).
public enum Disassembler {
    final class NoPorts: PortIO {
        func portRead(_ port: UInt16, size: Int) -> UInt32 { ~0 }
        func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
        var stopRequested: Bool { false }
    }

    /// A private CPU that decodes copies of the bytes (so decoding has no effect on the machine:
    /// no accessed bits, no CR2, no TLB fill).
    final class Scratch: @unchecked Sendable {
        let lock = ConditionLock()
        let memory = PhysicalMemory(size: 0x10000)
        let ports = NoPorts()
        let cpu: CPU
        static let code: UInt64 = 0x8000
        init() {
            cpu = CPU(memory: memory, io: ports)
            // Identity-map the first 2 MiB (one large page) for 64-bit mode.
            func put(_ at: UInt64, _ v: UInt64) { _ = memory.write((0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }, at: at) }
            put(0x1000, 0x2000 | 3); put(0x2000, 0x3000 | 3); put(0x3000, 0x83)
            for s in [Seg.es, Seg.ss, Seg.ds, Seg.fs, Seg.gs] { cpu.segs[s] = SegmentRegister(selector: 0x18, base: 0, limit: 0xFFFF_FFFF, attr: 0xC093) }
        }
        func decode(_ bytes: [UInt8], bits: Int) -> Insn? {
            lock.withLock {
                var b = Array(bytes.prefix(15))
                while b.count < 16 { b.append(0) }
                _ = memory.write(b, at: Self.code)
                switch bits {
                case 64:
                    cpu.cr3 = 0x1000; cpu.cr4 = CR4.pae; cpu.efer = EFER.lme | EFER.lma; cpu.cr0 = CR0.pe | CR0.pg | CR0.et
                    cpu.segs[Seg.cs] = SegmentRegister(selector: 8, base: 0, limit: 0xFFFF_FFFF, attr: 0xA09B)
                case 32:
                    cpu.cr4 = 0; cpu.efer = 0; cpu.cr0 = CR0.pe | CR0.et
                    cpu.segs[Seg.cs] = SegmentRegister(selector: 8, base: 0, limit: 0xFFFF_FFFF, attr: 0xC09B)
                default:
                    cpu.cr4 = 0; cpu.efer = 0; cpu.cr0 = CR0.pe | CR0.et
                    cpu.segs[Seg.cs] = SegmentRegister(selector: 8, base: 0, limit: 0xFFFF, attr: 0x009B)
                }
                cpu.modeChanged()
                return cpu.decodeForDebugger(at: Self.code)
            }
        }
    }
    nonisolated(unsafe) static var scratch: Scratch?
    static let scratchLock = ConditionLock()

    /// Decodes the instruction at the start of `bytes` (fetched at `address`, `bits`-bit code):
    /// its length and Intel-syntax text.
    public static func format(_ bytes: [UInt8], at address: UInt64, bits: Int) -> (length: Int, text: String) {
        let sc = scratchLock.withLock { () -> Scratch in
            if let s = scratch { return s }
            let s = Scratch(); scratch = s; return s
        }
        guard let i = sc.decode(bytes, bits: bits), i.len > 0 else { return (1, "(bad)") }
        let len = Int(i.len)
        if len > bytes.count { return (bytes.count, "(bad)  ; truncated: the next page is not mapped") }
        if i.op == .ud { return (len, "(bad)  ; #UD") }
        if i.op == .unimplemented { return (len, "(unknown to vmxemu: db " + bytes.prefix(len).map { "0x" + hex($0, 2) }.joined(separator: ",") + ")") }
        var t = text(i, address: address, bits: bits)
        // A RIP-relative operand's target goes to the end of the line as a comment.
        if let r = t.firstRange(of: "  ; 0x") {
            let end = t[r.upperBound...].firstIndex { !$0.isHexDigit } ?? t.endIndex
            let note = String(t[r.lowerBound..<end])
            t.removeSubrange(r.lowerBound..<end)
            t += note
        }
        return (len, t)
    }

    /// The operation of the instruction at the start of `bytes` (nil: undecodable).
    public static func decodeOp(_ bytes: [UInt8], bits: Int) -> Op? {
        let sc = scratchLock.withLock { () -> Scratch in
            if let s = scratch { return s }
            let s = Scratch(); scratch = s; return s
        }
        return sc.decode(bytes, bits: bits)?.op
    }

    static let gpr64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
    static let gpr32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
    static let gpr16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
    static let gpr8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]
    static let segNames = ["es", "cs", "ss", "ds", "fs", "gs"]
    static let cc = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
    static let alu = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
    static let shifts = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"]

    static func reg(_ n: UInt8, _ osz: UInt8) -> String {
        if n >= 16 && n <= 19 { return ["ah", "ch", "dh", "bh"][Int(n - 16)] }
        let k = Int(n & 15)
        switch osz {
        case 0: return gpr8[k]
        case 1: return gpr16[k]
        case 2: return gpr32[k]
        default: return gpr64[k]
        }
    }

    static func sizeName(_ osz: UInt8) -> String { ["byte", "word", "dword", "qword"][Int(min(osz, 3))] }

    static func imm(_ v: UInt64, _ osz: UInt8) -> String {
        let m: UInt64 = osz >= 3 ? ~0 : (1 << (8 << UInt64(osz))) - 1
        return "0x" + hex(v & m)
    }

    static func mem(_ i: Insn, address: UInt64, size: String?) -> String {
        var parts: [String] = []
        var dispShown = false
        if i.base == 16 {
            let target = address &+ UInt64(i.len) &+ i.disp
            parts.append("rip")
            let d = Int64(bitPattern: i.disp)
            parts.append(d < 0 ? "- 0x\(hex(UInt64(-d)))" : "+ 0x\(hex(UInt64(d)))")
            let body = "[" + parts.joined(separator: " ") + "]"
            return (size.map { "\($0) ptr " } ?? "") + body + "  ; 0x\(hex(target))"
        }
        let names = i.asz == 3 ? gpr64 : (i.asz == 2 ? gpr32 : gpr16)
        if i.base < 16 { parts.append(names[Int(i.base)]) }
        if i.index < 16 { parts.append((parts.isEmpty ? "" : "+ ") + names[Int(i.index)] + (i.scale > 0 ? "*\(1 << Int(i.scale))" : "")) }
        let dmask: UInt64 = i.asz == 3 ? ~0 : (i.asz == 2 ? 0xFFFF_FFFF : 0xFFFF)
        let d = i.disp & dmask
        if d != 0 || parts.isEmpty {
            let signed = i.asz == 3 ? Int64(bitPattern: d) : (i.asz == 2 ? Int64(Int32(truncatingIfNeeded: d)) : Int64(Int16(truncatingIfNeeded: d)))
            if parts.isEmpty { parts.append("0x" + hex(d)) } else { parts.append(signed < 0 ? "- 0x\(hex(UInt64(-signed)))" : "+ 0x\(hex(d))") }
            dispShown = true
        }
        _ = dispShown
        let defaultSeg: UInt8 = (i.base == 4 || i.base == 5) ? 2 : 3
        let segPrefix = i.seg != defaultSeg && i.seg < 6 && !(i.seg < 4 && i.asz == 3 && i.base < 16) ? segNames[Int(i.seg)] + ":" : ""
        return (size.map { "\($0) ptr " } ?? "") + segPrefix + "[" + parts.joined(separator: " ") + "]"
    }

    static func text(_ i: Insn, address: UInt64, bits: Int) -> String {
        let osz = i.osz
        func e(_ o: UInt8 = osz, sized: Bool = true) -> String { i.mem ? mem(i, address: address, size: sized ? sizeName(o) : nil) : reg(i.rm, o) }
        func g(_ o: UInt8 = osz) -> String { reg(i.reg, o) }
        func target() -> String {
            var t = address &+ UInt64(i.len) &+ i.imm
            if bits != 64 { t &= bits == 16 || osz == 1 ? 0xFFFF : 0xFFFF_FFFF }
            return "0x" + hex(t)
        }
        let rep = i.rep == 1 ? "rep " : (i.rep == 2 ? "repne " : "")
        let lock = i.lock ? "lock " : ""
        func ops(_ m: String, _ o: String...) -> String { lock + m + (o.isEmpty ? "" : " " + o.joined(separator: ", ")) }
        let sfx = ["b", "w", "d", "q"][Int(min(osz, 3))]
        switch i.op {
        case .aluEG: return ops(alu[Int(i.aluOp & 7)], e(), g())
        case .aluGE: return ops(alu[Int(i.aluOp & 7)], g(), e())
        case .aluEI: return ops(alu[Int(i.aluOp & 7)], e(), imm(i.imm, osz))
        case .aluRR64, .aluRR32: return ops(alu[Int(i.aluOp & 7)], reg(i.reg, osz), reg(i.rm, osz))
        case .aluRI64, .aluRI32: return ops(alu[Int(i.aluOp & 7)], reg(i.reg, osz), imm(i.imm, osz))
        case .testEG, .testRR64, .testRR32: return ops("test", e(), g())
        case .testEI, .testRI: return ops("test", e(), imm(i.imm, osz))
        case .incE, .decE, .notE, .negE, .mulE, .imul1E, .divE, .idivE:
            let names: [Op: String] = [.incE: "inc", .decE: "dec", .notE: "not", .negE: "neg", .mulE: "mul", .imul1E: "imul", .divE: "div", .idivE: "idiv"]
            return ops(names[i.op]!, e())
        case .incR64, .incR32: return ops("inc", reg(i.reg, osz))
        case .decR64, .decR32: return ops("dec", reg(i.reg, osz))
        case .imulGE: return ops("imul", g(), e())
        case .imulGEI: return ops("imul", g(), e(), imm(i.imm, osz))
        case .movEG, .store64, .store32: return ops("mov", e(), g())
        case .movGE, .load64, .load32: return ops("mov", g(), e())
        case .mov64RR, .mov32RR: return ops("mov", reg(i.reg, osz), reg(i.rm, osz))
        case .movEI: return ops("mov", e(), imm(i.imm, osz))
        case .movRI: return ops("mov", reg(i.reg, osz), imm(i.imm, osz))
        case .movES: return ops("mov", e(1, sized: false), segNames[Int(min(i.segmentRegister, 5))])
        case .movSE: return ops("mov", segNames[Int(min(i.segmentRegister, 5))], e(1, sized: false))
        case .lea, .lea64: return ops("lea", g(), i.mem ? mem(i, address: address, size: nil) : "?")
        case .movzx, .movsx: return ops(i.op == .movzx ? "movzx" : "movsx", g(), e(i.sourceSize == 0 ? 0 : 1))
        case .movsxd: return ops("movsxd", g(), e(2))
        case .xchgEG: return ops("xchg", e(), g())
        case .push, .push64, .pop, .pop64:
            return ops(i.op == .push || i.op == .push64 ? "push" : "pop", reg(i.rm, osz))
        case .pushI: return ops("push", imm(i.imm, osz))
        case .pushE: return ops("push", e())
        case .popE: return ops("pop", e())
        case .pushSeg, .popSeg: return ops(i.op == .pushSeg ? "push" : "pop", segNames[Int(min(i.segmentRegister, 5))])
        case .pusha, .popa: return i.op == .pusha ? "pusha" : "popa"
        case .pushf, .popf: return (i.op == .pushf ? "pushf" : "popf") + (osz == 3 ? "q" : (osz == 1 ? "w" : "d"))
        case .cbw: return ["cbw", "cbw", "cwde", "cdqe"][Int(osz)]
        case .cwd: return ["cwd", "cwd", "cdq", "cqo"][Int(osz)]
        case .lahf: return "lahf"
        case .sahf: return "sahf"
        case .shiftE:
            let count = i.countSource == Insn.countOne ? "1" : (i.countSource == Insn.countCL ? "cl" : "0x" + hex(i.imm & 0xFF))
            return ops(shifts[Int(i.shiftOp & 7)], e(), count)
        case .shld, .shrd: return ops(i.op == .shld ? "shld" : "shrd", e(), g(), i.countSource == Insn.countCL ? "cl" : "0x" + hex(i.imm & 0xFF))
        case .jcc: return "j" + cc[Int(i.conditionCode & 15)] + " " + target()
        case .jmpRel: return "jmp " + target()
        case .callRel, .call64: return "call " + target()
        case .loop: return ["loopne", "loope", "loop", "jrcxz"][Int(i.loopKind & 3)] + " " + target()
        case .jcxz: return "jrcxz " + target()
        case .ret, .ret64: return i.imm == 0 ? "ret" : "ret 0x" + hex(i.imm)
        case .jmpE: return "jmp " + e()
        case .callE: return "call " + e()
        case .jmpFar, .callFar: return (i.op == .jmpFar ? "jmp" : "call") + " 0x\(hex(i.farSelector)):0x\(hex(i.imm))"
        case .jmpFarE, .callFarE: return (i.op == .jmpFarE ? "jmp far " : "call far ") + e(sized: false)
        case .retFar: return "retf" + (i.imm == 0 ? "" : " 0x" + hex(i.imm))
        case .iret: return osz == 3 ? "iretq" : (osz == 1 ? "iretw" : "iretd")
        case .int3: return "int3"
        case .intN: return "int 0x" + hex(i.imm)
        case .into: return "into"
        case .int1: return "int1"
        case .hlt: return "hlt"
        case .cmc, .clc, .stc, .cli, .sti, .cld, .std, .nop, .pause:
            return "\(i.op)"
        case .setcc: return "set" + cc[Int(i.conditionCode & 15)] + " " + e(0)
        case .cmovcc: return "cmov" + cc[Int(i.conditionCode & 15)] + " " + g() + ", " + e()
        case .btE:
            let name = ["bt", "bt", "bt", "bt", "bt", "bts", "btr", "btc"][Int(i.bitOp & 7)]
            return ops(name, e(), i.bitOffsetIsImmediate ? "0x" + hex(i.imm) : g())
        case .bsf, .bsr, .tzcnt, .lzcnt, .popcnt: return ops("\(i.op)", g(), e())
        case .bswap: return "bswap " + reg(i.rm, osz)
        case .xadd: return ops("xadd", e(), g())
        case .cmpxchg: return ops("cmpxchg", e(), g())
        case .cmpxchg8b: return ops(osz == 3 ? "cmpxchg16b" : "cmpxchg8b", e(sized: false))
        case .movs, .cmps, .stos, .lods, .scas, .ins, .outs:
            return rep + "\(i.op)" + sfx
        case .inPort: return "in " + reg(0, osz) + ", " + (i.portIsImmediate ? "0x" + hex(i.imm) : "dx")
        case .outPort: return "out " + (i.portIsImmediate ? "0x" + hex(i.imm) : "dx") + ", " + reg(0, osz)
        case .enter: return "enter 0x\(hex(i.imm)), 0x\(hex(i.nestingLevel))"
        case .leave: return "leave"
        case .xlat: return "xlat"
        case .lgdt, .lidt, .sgdt, .sidt, .invlpg, .clflush: return "\(i.op) " + e(sized: false)
        case .lldt, .ltr, .sldt, .str, .smsw, .lmsw, .verr, .verw: return "\(i.op) " + e(1)
        case .lar, .lsl: return ops("\(i.op)", g(), e(1))
        case .loadFarPointer: return ops(["les", "lcs", "lss", "lds", "lfs", "lgs"][Int(min(i.segmentRegister, 5))], g(), e())
        case .swapgs, .rdtscp, .wrmsr, .rdmsr, .rdtsc, .rdpmc, .cpuid, .syscall, .sysret, .sysenter, .sysexit, .clts, .invd, .wbinvd, .monitor, .mwait:
            return "\(i.op)"
        case .rdpid: return "rdpid " + reg(i.rm, osz)
        case .rdrand: return (i.modrmReg == 7 ? "rdseed " : "rdrand ") + reg(i.rm, osz)
        case .fsgsbase: return ["rdfsbase", "rdgsbase", "wrfsbase", "wrgsbase"][Int(i.modrmReg & 3)] + " " + reg(i.rm, osz == 3 ? 3 : 2)
        case .adx: return ops(i.modrmReg == 0 ? "adcx" : "adox", g(), e())
        case .bmi:
            guard let f = VEXTable.form(i.bmiForm) else { return "(bad)" }
            let v = reg(i.vexRegister, osz)
            switch f.layout {
            case .vE: return ops(f.mnemonic, v, e())
            case .gVE: return ops(f.mnemonic, g(), v, e())
            case .gEV: return ops(f.mnemonic, g(), e(), v)
            case .gEImm8: return ops(f.mnemonic, g(), e(), imm(i.imm, 0))
            }
        case .bcd: return ["daa", "das", "aaa", "aas", "aam", "aad"][Int(min(i.bcdOp, 5))] + (i.bcdOp >= 4 ? " 0x" + hex(i.imm) : "")
        case .salc: return "salc"
        case .arpl: return ops("arpl", e(1), reg(i.reg, 1))
        case .bound: return ops("bound", g(), e(sized: false))
        case .invpcid: return ops("invpcid", reg(i.reg, osz), e(sized: false))
        case .xgetbv, .xsetbv: return "\(i.op)"
        case .xsave:
            let names = i.xsaveCompacted ? ["xrstors", "xsavec", "xsaves"] : ["xsave", "xrstor", "xsaveopt"]
            let base: UInt8 = i.xsaveCompacted ? 3 : 4
            return names[Int(min(max(i.modrmReg, base), base + 2) - base)] + (osz == 3 ? "64 " : " ") + e(sized: false)
        case .x87:
            if i.x87Escape == Insn.fwait { return "fwait" }
            return x87Text(i, address: address)
        case .fxsave: return (i.modrmReg == 0 ? "fxsave" : "fxrstor") + (osz == 3 ? "64 " : " ") + e(sized: false)
        case .sse: return simdText(i, address: address)
        case .movFromCR: return "mov " + reg(i.rm, 3 == osz ? 3 : 2) + ", cr\(i.reg)"
        case .movToCR: return "mov cr\(i.reg), " + reg(i.rm, 3 == osz ? 3 : 2)
        case .movFromDR: return "mov " + reg(i.rm, 3 == osz ? 3 : 2) + ", dr\(i.reg)"
        case .movToDR: return "mov dr\(i.reg), " + reg(i.rm, 3 == osz ? 3 : 2)
        case .movbeGM: return ops("movbe", g(), e())
        case .movbeMG: return ops("movbe", e(), g())
        case .vmxon, .vmclear, .vmptrld, .vmptrst: return "\(i.op) " + e(3)
        case .vmread: return "vmread " + e() + ", " + g()
        case .vmwrite: return "vmwrite " + g() + ", " + e()
        case .vmxoff, .vmlaunch, .vmresume, .vmcall: return "\(i.op)"
        case .ud, .unimplemented: return "(bad)"
        }
    }
}
