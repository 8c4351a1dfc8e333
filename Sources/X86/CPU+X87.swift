/// The x87 FPU (SDM Vol. 1 ch. 8 "Programming with the x87 FPU"), and FXSAVE/FXRSTOR.
/// Arithmetic runs on the host FPU through CFPU (see `cfpu.h`, `cfpu_x87.h`): this file keeps the
/// architectural state (register stack, tags, control/status word, pointers), decides stack
/// faults, masked and unmasked responses and #MF/#NM, and moves operands to and from memory.
import CFPU

/// An 80-bit register value (significand with explicit integer bit, sign|exponent).
typealias F80 = cfpu_f80

/// The x87 register file and its control/status state (SDM Vol. 1 §8.1 "x87 FPU Execution
/// Environment"). Registers are kept by *physical* number R0…R7; ST(i) is R((TOP + i) mod 8).
/// Tags are kept abridged (empty or not, as the hardware does since the P6); the full tag word is
/// derived from the register contents when read (`ftw`), which is what FNSTENV/FNSAVE store.
public struct X87State: Sendable {
    /// Significands of R0…R7 (bit 63 = the explicit integer bit J).
    public var mantissa: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// Sign (bit 15) and biased exponent (bits 14:0) of R0…R7.
    public var signExponent: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// FPU control word (SDM Vol. 1 §8.1.5); FNINIT value 037FH.
    public var fcw: UInt16 = 0x037F
    /// FPU status word without TOP (bits 13:11 kept zero here; see `fsw`).
    public var status: UInt16 = 0
    /// TOP, the physical number of ST(0).
    public var top: UInt8 = 0
    /// Bit p set: physical register Rp is empty (tag 11B).
    public var emptyMask: UInt8 = 0xFF
    /// Last non-control instruction's opcode (11 bits, SDM Vol. 1 §8.1.9), instruction pointer
    /// (offset; in real mode the offset too, with `fcs` the CS value) and data pointer.
    public var fop: UInt16 = 0
    public var fip: UInt64 = 0
    public var fcs: UInt16 = 0
    public var fdp: UInt64 = 0
    public var fds: UInt16 = 0

    public init() {}

    /// The status word with TOP in bits 13:11 (SDM Vol. 1 §8.1.3, Figure 8-4).
    public var fsw: UInt16 {
        get { (status & ~0x3800) | UInt16(top & 7) << 11 }
        set { status = newValue & ~0x3800; top = UInt8((newValue >> 11) & 7) }
    }

    /// The full tag word (SDM Vol. 1 §8.1.7 "x87 FPU Tag Word", Figure 8-7): per physical register
    /// 00 valid, 01 zero, 10 special (NaN, ∞, denormal, unsupported), 11 empty.
    public var ftw: UInt16 {
        var t: UInt16 = 0
        for p in 0..<8 {
            let tag: UInt16 = emptyMask & (1 << UInt8(p)) != 0 ? 3 : X87State.tag(register(p))
            t |= tag << UInt16(2 * p)
        }
        return t
    }

    /// The abridged tag of FXSAVE (SDM Vol. 1 §10.5.1.1 "x87 State"): bit p = 1 when Rp is not empty.
    public var abridgedTag: UInt8 { ~emptyMask }

    /// The tag of a non-empty register's contents.
    static func tag(_ v: (mantissa: UInt64, signExponent: UInt16)) -> UInt16 {
        let e = v.signExponent & 0x7FFF
        if e == 0x7FFF { return 2 }
        if e == 0 { return v.mantissa == 0 ? 1 : 2 }
        return v.mantissa >> 63 == 1 ? 0 : 2      // unnormal: special
    }

    /// Physical register Rp (p = 0…7) as raw bytes: significand and sign|exponent.
    public func register(_ p: Int) -> (mantissa: UInt64, signExponent: UInt16) {
        let k = p & 7
        let m = withUnsafeBytes(of: mantissa) { $0.load(fromByteOffset: k * 8, as: UInt64.self) }
        let se = withUnsafeBytes(of: signExponent) { $0.load(fromByteOffset: k * 2, as: UInt16.self) }
        return (m, se)
    }

    /// Write physical register Rp (the tag is not changed).
    public mutating func setRegister(_ p: Int, mantissa m: UInt64, signExponent se: UInt16) {
        let k = p & 7
        withUnsafeMutableBytes(of: &mantissa) { $0.storeBytes(of: m, toByteOffset: k * 8, as: UInt64.self) }
        withUnsafeMutableBytes(of: &signExponent) { $0.storeBytes(of: se, toByteOffset: k * 2, as: UInt16.self) }
    }

    /// ST(i)'s physical register number.
    public func physical(_ i: Int) -> Int { (Int(top) &+ i) & 7 }
}

/// FSW bits (SDM Vol. 1 §8.1.3 "x87 FPU Status Register", Figure 8-4).
enum FSW {
    static let ie: UInt16 = 1 << 0, de: UInt16 = 1 << 1, ze: UInt16 = 1 << 2, oe: UInt16 = 1 << 3
    static let ue: UInt16 = 1 << 4, pe: UInt16 = 1 << 5, sf: UInt16 = 1 << 6, es: UInt16 = 1 << 7
    static let c0: UInt16 = 1 << 8, c1: UInt16 = 1 << 9, c2: UInt16 = 1 << 10, c3: UInt16 = 1 << 14
    static let b: UInt16 = 1 << 15
    static let exceptions: UInt16 = 0x3F
    static let cc: UInt16 = c0 | c1 | c2 | c3
}

/// The QNaN floating-point indefinite (SDM Vol. 1 §4.8.3.7 "QNaN Floating-Point Indefinite").
let x87Indefinite = F80(m: 0xC000_0000_0000_0000, se: 0xFFFF)

extension CPU {
    // MARK: Register stack

    @inline(__always) func stEmpty(_ i: Int) -> Bool { x87.emptyMask & (1 << UInt8(x87.physical(i))) != 0 }

    @inline(__always) func st(_ i: Int) -> F80 {
        let r = x87.register(x87.physical(i))
        return F80(m: r.mantissa, se: r.signExponent)
    }

    /// Write ST(i) and tag it non-empty.
    @inline(__always) func setST(_ i: Int, _ v: F80) {
        let p = x87.physical(i)
        x87.setRegister(p, mantissa: v.m, signExponent: v.se)
        x87.emptyMask &= ~(1 << UInt8(p))
    }

    /// Push (TOP − 1, then write ST(0)); the caller has checked for overflow.
    @inline(__always) func x87Push(_ v: F80) {
        x87.top = (x87.top &- 1) & 7
        setST(0, v)
    }

    /// Pop: tag ST(0) empty, TOP + 1 (SDM Vol. 1 §8.1.2 "x87 FPU Data Registers").
    @inline(__always) func x87Pop() {
        x87.emptyMask |= 1 << UInt8(x87.top & 7)
        x87.top = (x87.top &+ 1) & 7
    }

    // MARK: Exceptions

    /// The control word the host unit runs with: the guest's PC and RC; IM, DM, ZM, PM set; OM and
    /// UM as the guest has them when `overflowUnmasked` (register destinations of operations that
    /// do not pop — the host then produces the bias-adjusted result, see cfpu_x87.h), else set.
    @inline(__always) func hostCW(_ guestOU: Bool = false) -> UInt16 {
        let masks: UInt16 = guestOU ? 0x27 | (x87.fcw & 0x18) : 0x3F
        return (x87.fcw & 0x0F00) | 0x40 | masks
    }

    /// Record the exception flags of a host status word in FSW (they are sticky) and set ES and B
    /// when one of them is unmasked (SDM Vol. 1 §8.1.3.3 "Exception Flags", §8.7). Returns the
    /// unmasked ones.
    @discardableResult
    func x87Raise(_ sw: UInt16) -> UInt16 {
        let e = sw & FSW.exceptions
        x87.status |= e
        let unmasked = e & ~x87.fcw & FSW.exceptions
        if unmasked != 0 { x87.status |= FSW.es | FSW.b }
        return unmasked
    }

    /// Replace the condition-code bits in `mask` with those of `sw`.
    @inline(__always) func x87CC(_ sw: UInt16, _ mask: UInt16) {
        x87.status = (x87.status & ~mask) | (sw & mask)
    }

    /// Stack overflow (C1 = 1) or underflow (C1 = 0): IE and SF (SDM Vol. 1 §8.5.1.1 "Stack
    /// Overflow or Underflow Exception (#IS)"). Returns true when IE is masked: the caller then
    /// gives the masked response (the QNaN indefinite); unmasked, nothing else changes.
    func x87StackFault(overflow: Bool) -> Bool {
        x87.status = (x87.status & ~FSW.c1) | FSW.ie | FSW.sf | (overflow ? FSW.c1 : 0)
        if x87.fcw & 1 != 0 { return true }
        x87.status |= FSW.es | FSW.b
        return false
    }

    /// ES/B from the exception flags and masks, after FLDCW/FLDENV/FRSTOR/FXRSTOR (SDM Vol. 2A
    /// "FLDCW": unmasking a set flag makes the next waiting instruction raise the exception).
    func x87RecomputeES() {
        if x87.status & ~x87.fcw & FSW.exceptions != 0 { x87.status |= FSW.es | FSW.b }
        else { x87.status &= ~(FSW.es | FSW.b) }
    }

    /// A waiting instruction with an unmasked exception pending (ES): #MF before it executes when
    /// CR0.NE = 1 (SDM Vol. 1 §8.7 "Handling x87 FPU Exceptions in Software", §8.7.1 "Native
    /// Mode"); with NE = 0 the exception goes out as FERR#/IRQ 13 (§8.7.2 "MS-DOS Compatibility
    /// Sub-mode"), which this machine does not model.
    @inline(__always) func x87CheckPending() throws(Fault) {
        guard x87.status & FSW.es != 0 else { return }
        if cr0 & CR0.ne == 0 { throw unimplementedStop("x87 exception with CR0.NE=0 (FERR#/IRQ13 not modelled)") }
        throw Fault.MF()
    }

    // MARK: Memory operands

    /// `off + k` wrapped to the address size.
    @inline(__always) func x87Off(_ i: UnsafePointer<Insn>, _ off: UInt64, _ k: UInt64) -> UInt64 {
        let a = off &+ k
        return i.pointee.asz == 3 ? a : a & CPU.mask(i.pointee.asz)
    }

    func read80(_ i: UnsafePointer<Insn>, _ seg: Int, _ off: UInt64) throws(Fault) -> F80 {
        let m = try readMem(3, seg, off)
        let se = try readMem(1, seg, x87Off(i, off, 8))
        return F80(m: m, se: UInt16(truncatingIfNeeded: se))
    }

    /// Write 10 bytes; both parts are probed first so a #PF leaves memory untouched.
    func write80(_ i: UnsafePointer<Insn>, _ seg: Int, _ off: UInt64, _ v: F80, probed: Bool = false) throws(Fault) {
        if !probed {
            try probeWrite(3, seg, off)
            try probeWrite(1, seg, x87Off(i, off, 8))
        }
        try writeMem(3, seg, off, v.m)
        try writeMem(1, seg, x87Off(i, off, 8), UInt64(v.se))
    }

    /// The ModRM byte of the instruction (for FOP). The decoded form keeps no `mod` for memory
    /// operands, so it is read back from the instruction bytes (first byte D8…DF after the
    /// prefixes, then ModRM) without side effects.
    func x87ModRM(_ i: UnsafePointer<Insn>) -> UInt8 {
        let sub = UInt8(i.pointee.modrmReg & 7)
        if !i.pointee.mem { return 0xC0 | sub << 3 | UInt8(i.pointee.rm & 7) }
        let len = UInt64(i.pointee.len)
        let start = rip &- len
        var k: UInt64 = 0
        while k &+ 1 < len {
            var lin = codeMode == 2 ? start &+ k : (segBase[Seg.cs] &+ start &+ k) & 0xFFFF_FFFF
            guard let pa = debugTranslate(lin) else { break }
            let b = readPhys(pa, 1)
            if b & 0xF8 == 0xD8 {
                lin = codeMode == 2 ? lin &+ 1 : (lin &+ 1) & 0xFFFF_FFFF
                guard let pb = debugTranslate(lin) else { break }
                return UInt8(truncatingIfNeeded: readPhys(pb, 1))
            }
            k &+= 1
        }
        return sub << 3
    }

    // MARK: Dispatch

    /// x87 instructions (`Op.x87`: `x87Escape` = the escape D8…DF as 0…7 or `Insn.fwait`;
    /// `modrmReg`, rm = ModRM.rm, mem = memory form) and `Op.fxsave` (`modrmReg` 0 = FXSAVE, 1 = FXRSTOR).
    @inline(never) func executeX87(_ i: UnsafePointer<Insn>) throws(Fault) {
        if i.pointee.op == .fxsave { try fxsaveOrRestore(i); return }
        let esc = i.pointee.x87Escape
        if esc == Insn.fwait {
            // WAIT/FWAIT: #NM only when MP = 1 and TS = 1 (SDM Vol. 3A §2.5 "Control Registers",
            // Table 2-2 "Action Taken By x87 FPU Instructions for Different Combinations of EM, MP,
            // and TS"), then the pending-exception check.
            if cr0 & (CR0.mp | CR0.ts) == CR0.mp | CR0.ts { throw Fault.NM() }
            try x87CheckPending()
            return
        }
        // Any other x87 instruction: #NM when EM = 1 or TS = 1 (Table 2-2).
        if cr0 & (CR0.em | CR0.ts) != 0 { throw Fault.NM() }
        let sub = Int(i.pointee.modrmReg & 7), rm = Int(i.pointee.rm & 7)
        if i.pointee.mem {
            switch (esc, sub) {
            case (1, 4...7), (5, 4), (5, 6), (5, 7):
                try x87ControlMem(i, esc, sub)
                return
            default: break
            }
        } else {
            switch (esc, sub, rm) {
            // The no-wait control instructions (SDM Vol. 1 §8.3.11 "x87 FPU Control Instructions").
            case (3, 4, 2):     // FNCLEX: clear the exception flags, SF, ES, B (C0–C3 undefined: kept)
                x87.status &= ~(FSW.exceptions | FSW.sf | FSW.es | FSW.b)
                return
            case (3, 4, 3):     // FNINIT
                x87Init()
                return
            case (7, 4, 0):     // FNSTSW AX
                setReg(1, 0, UInt64(x87.fsw))
                return
            case (3, 4, 0), (3, 4, 1), (3, 4, 4):
                // FENI, FDISI (8087), FSETPM (287): no operation on later processors (SDM Vol. 2
                // Appendix A.5.2 leaves them to the FNOP behaviour of the 387 and later).
                return
            default: break
            }
        }
        // Everything else waits for pending exceptions first.
        try x87CheckPending()
        if !i.pointee.mem {
            switch (esc, sub) {
            case (1, 2) where rm == 0: return                            // FNOP (control: no pointer update)
            case (1, 6) where rm == 6:                                   // FDECSTP
                x87.top = (x87.top &- 1) & 7; x87.status &= ~FSW.c1; return
            case (1, 6) where rm == 7:                                   // FINCSTP
                x87.top = (x87.top &+ 1) & 7; x87.status &= ~FSW.c1; return
            case (5, 0):                                                 // FFREE ST(i)
                x87.emptyMask |= 1 << UInt8(x87.physical(rm)); return
            case (7, 0):                                                 // FFREEP ST(i) (undocumented: FFREE then pop)
                x87.emptyMask |= 1 << UInt8(x87.physical(rm)); x87Pop(); return
            default: break
            }
        }
        // A non-control instruction: FIP/FCS/FOP, and FDP/FDS for a memory operand (SDM Vol. 1
        // §8.1.8 "x87 FPU Instruction and Data (Operand) Pointers", §8.1.9 "Last Instruction Opcode").
        x87.fip = rip &- UInt64(i.pointee.len)
        x87.fcs = segs[Seg.cs].selector
        x87.fop = UInt16(esc) << 8 | UInt16(x87ModRM(i))
        if i.pointee.mem {
            try x87Memory(i, esc, sub)
        } else {
            try x87Register(esc, sub, rm)
        }
    }

    /// FNINIT (SDM Vol. 2A "FINIT/FNINIT"): FCW 037FH, FSW 0, all tags empty, pointers and FOP 0.
    func x87Init() {
        x87.fcw = 0x037F
        x87.status = 0
        x87.top = 0
        x87.emptyMask = 0xFF
        x87.fop = 0; x87.fip = 0; x87.fcs = 0; x87.fdp = 0; x87.fds = 0
    }

    // MARK: Arithmetic helpers

    /// dest op src with `op` in the D8 /reg encoding (0 ADD, 1 MUL, 4 SUB dest−src, 5 SUBR
    /// src−dest, 6 DIV dest/src, 7 DIVR src/dest). Returns the result and the host status word.
    func x87Arith(_ op: Int, _ dest: F80, _ src: F80) -> (F80, UInt16) {
        var a = dest, b = src, r = F80()
        let cw = hostCW(true)
        let sw: UInt16
        switch op {
        case 0: sw = cfpu_x87_binary(cw, Int32(CFPU_X87_ADD), &a, &b, &r)
        case 1: sw = cfpu_x87_binary(cw, Int32(CFPU_X87_MUL), &a, &b, &r)
        case 4: sw = cfpu_x87_binary(cw, Int32(CFPU_X87_SUB), &a, &b, &r)
        case 5: sw = cfpu_x87_binary(cw, Int32(CFPU_X87_SUB), &b, &a, &r)
        case 6: sw = cfpu_x87_binary(cw, Int32(CFPU_X87_DIV), &a, &b, &r)
        default: sw = cfpu_x87_binary(cw, Int32(CFPU_X87_DIV), &b, &a, &r)
        }
        return (r, sw)
    }

    /// Write an arithmetic result to ST(dest) (and pop) unless an unmasked invalid-operation,
    /// denormal or divide-by-zero exception occurred (then TOP and the operands stay unchanged:
    /// SDM Vol. 1 §8.5.1.2, §8.5.2, §8.5.3). C1 is the round-up bit (§8.1.3.1 "Condition Code
    /// Flags"). `sw` may carry the flags of a memory operand's conversion too.
    func x87Deliver(_ dest: Int, _ r: F80, _ sw: UInt16, pop: Bool) {
        let unmasked = x87Raise(sw)
        if unmasked & (FSW.ie | FSW.de | FSW.ze) != 0 { return }
        x87CC(sw, FSW.c1)
        setST(dest, r)
        if pop { x87Pop() }
    }

    /// Convert a memory operand (`kind` a CFPU_X87_M… format) read as `raw` (low bytes) to 80 bits.
    func x87Convert(_ kind: Int32, _ raw: UInt64, _ hi: UInt16 = 0) -> (F80, UInt16) {
        var s = F80(m: raw, se: hi), r = F80()
        let sw = cfpu_x87_load(hostCW(), kind, &s, &r)
        return (r, sw)
    }

    /// The m32fp/m64fp/m…int operand of an arithmetic or compare instruction in 80 bits. An SNaN
    /// stays an SNaN (significand and sign kept exactly, no flags): the host's operation then sees
    /// it as the real instruction does — quieting it in a separate conversion would make the QNaN
    /// rules pick between two QNaNs by significand, where "SNaN and QNaN" gives the QNaN source
    /// operand (SDM Vol. 1 §4.8.3.5 "QNaN and SNaN Operands", Table 4-7 "Rules for Generating
    /// QNaNs"), and an unsupported ST(0) with an SNaN gives the indefinite.
    func x87OperandConvert(_ kind: Int32, _ raw: UInt64) -> (F80, UInt16) {
        if kind == Int32(CFPU_X87_M32FP), raw & 0x7F80_0000 == 0x7F80_0000, raw & 0x40_0000 == 0, raw & 0x3F_FFFF != 0 {
            return (F80(m: 1 << 63 | (raw & 0x7F_FFFF) << 40, se: UInt16(truncatingIfNeeded: raw >> 31 & 1) << 15 | 0x7FFF), 0)
        }
        if kind == Int32(CFPU_X87_M64FP), raw & 0x7FF0_0000_0000_0000 == 0x7FF0_0000_0000_0000,
           raw & 0x8_0000_0000_0000 == 0, raw & 0x7_FFFF_FFFF_FFFF != 0 {
            return (F80(m: 1 << 63 | (raw & 0xF_FFFF_FFFF_FFFF) << 11, se: UInt16(truncatingIfNeeded: raw >> 63) << 15 | 0x7FFF), 0)
        }
        return x87Convert(kind, raw)
    }

    /// The exception flags of a memory operand's conversion to merge with those of the operation
    /// itself. The conversion runs as a separate host instruction, so a denormal operand's DE
    /// must be dropped where the real instruction would not report it: when ST(0) is a NaN (a
    /// QNaN operand takes precedence over the denormal-operand exception) or the operation raised
    /// an invalid-operation exception (SDM Vol. 1 §4.9.2 "Floating-Point Exception Priority").
    func x87OperandFlags(_ loadSW: UInt16, _ a: F80, _ opSW: UInt16) -> UInt16 {
        var f = loadSW & FSW.exceptions
        let nan = a.se & 0x7FFF == 0x7FFF && a.m & 0x7FFF_FFFF_FFFF_FFFF != 0
        if nan || opSW & FSW.ie != 0 { f &= ~FSW.de }
        return f
    }

    /// The status word after comparing ST(0) with `b` (FCOM family; `unordered` for FUCOM).
    func x87CompareSW(_ a: F80, _ b: F80, unordered: Bool) -> UInt16 {
        var x = a, y = b
        return cfpu_x87_examine(hostCW(), Int32(unordered ? CFPU_X87_UCOM : CFPU_X87_COM), &x, &y)
    }

    /// FCOM/FUCOM/FICOM and FCOMI/FUCOMI: compare ST(0) with `b`, set C3 C2 C0 (or ZF PF CF with
    /// OF SF AF cleared for the EFLAGS forms, SDM Vol. 2A "FCOMI/FCOMIP/FUCOMI/FUCOMIP"), pop
    /// `pops` times. `empty`: an operand register is empty (stack underflow: the masked response
    /// is "unordered").
    func x87Compare(_ b: F80, empty: Bool, unordered: Bool, eflags: Bool, pops: Int, extraSW: UInt16 = 0) {
        var sw: UInt16
        if empty {
            if !x87StackFault(overflow: false) { return }
            sw = FSW.c0 | FSW.c2 | FSW.c3
        } else {
            sw = x87CompareSW(st(0), b, unordered: unordered)
            sw |= x87OperandFlags(extraSW, st(0), sw)
            // An unmasked invalid-operation or denormal exception: no condition codes, no pop.
            if x87Raise(sw) & (FSW.ie | FSW.de) != 0 { return }
            x87.status &= ~FSW.c1
        }
        if eflags {
            var f: UInt64 = 0
            if sw & FSW.c3 != 0 { f |= RFLAGS.zf }
            if sw & FSW.c2 != 0 { f |= RFLAGS.pf }
            if sw & FSW.c0 != 0 { f |= RFLAGS.cf }
            setArith(f)
        } else {
            x87CC(sw, FSW.c0 | FSW.c2 | FSW.c3)
        }
        for _ in 0..<pops { x87Pop() }
    }

    /// Push a loaded value: stack overflow if ST(7) is not empty (masked: push the indefinite);
    /// an unmasked IE/DE from the conversion pushes nothing. C1 = 0 unless overflow.
    func x87Load(_ v: F80, _ sw: UInt16) {
        if x87.emptyMask & (1 << UInt8(x87.physical(7))) == 0 {
            if x87StackFault(overflow: true) { x87Push(x87Indefinite) }
            return
        }
        if x87Raise(sw) & (FSW.ie | FSW.de) != 0 { return }
        x87.status &= ~FSW.c1
        x87Push(v)
    }

    /// Store ST(0) to memory in format `kind` (FST/FSTP m32/m64, FIST/FISTP/FISTTP, FBSTP) and
    /// pop if `pop`. Masked stack underflow stores the format's indefinite; an unmasked IE, DE,
    /// OE or UE leaves memory and the stack unchanged (SDM Vol. 1 §8.5.4 "Destination is a memory
    /// location — … TOP and source and destination operands remain unchanged", §8.5.5 likewise).
    func x87StoreConverted(_ i: UnsafePointer<Insn>, _ kind: Int32, _ size: UInt8, pop: Bool) throws(Fault) {
        let seg = Int(i.pointee.seg), off = ea(i)
        let bcd = kind == Int32(CFPU_X87_M80BCD)
        if bcd { try probeWrite(3, seg, off); try probeWrite(1, seg, x87Off(i, off, 8)) }
        else { try probeWrite(size, seg, off) }
        var a: F80
        var masked = true
        if stEmpty(0) {
            guard x87StackFault(overflow: false) else { return }
            a = x87Indefinite
        } else {
            a = st(0)
            masked = false
        }
        var d = F80()
        var sw = cfpu_x87_store(hostCW(), kind, &a, &d)
        // The host ran with UM set, where UE means "tiny and inexact". With UM clear the x87
        // signals UE for every tiny result, exact ones too (SDM Vol. 1 §8.5.5 "Numeric Underflow
        // Exception (#U)"): a finite nonzero source that stores with a zero exponent field.
        if !masked && x87.fcw & FSW.ue == 0 && (kind == Int32(CFPU_X87_M32FP) || kind == Int32(CFPU_X87_M64FP)) {
            let e = a.se & 0x7FFF
            let tiny = kind == Int32(CFPU_X87_M32FP) ? (d.m >> 23) & 0xFF == 0 : (d.m >> 52) & 0x7FF == 0
            if e != 0x7FFF && (e != 0 || a.m != 0) && tiny { sw |= FSW.ue }
        }
        if !masked {
            if x87Raise(sw) & (FSW.ie | FSW.de | FSW.oe | FSW.ue) != 0 { return }
            x87CC(sw, FSW.c1)
        }
        if bcd {
            try write80(i, seg, off, d, probed: true)
        } else {
            try writeMem(size, seg, off, d.m & CPU.mask(size))
        }
        if pop { x87Pop() }
    }

    // MARK: Memory forms

    func x87Memory(_ i: UnsafePointer<Insn>, _ esc: Int, _ sub: Int) throws(Fault) {
        let seg = Int(i.pointee.seg), off = ea(i)
        x87.fdp = off
        x87.fds = segs[seg].selector
        switch esc {
        case 0, 2, 4, 6:
            // D8 m32fp, DA m32int, DC m64fp, DE m16int: FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR
            // and the FI… forms (SDM Vol. 2A "FADD/FADDP/FIADD" … "FDIVR/FDIVRP/FIDIVR", "FCOM",
            // "FICOM").
            let size: UInt8 = esc == 4 ? 3 : (esc == 6 ? 1 : 2)
            let kind: Int32
            switch esc {
            case 0: kind = Int32(CFPU_X87_M32FP)
            case 2: kind = Int32(CFPU_X87_M32INT)
            case 4: kind = Int32(CFPU_X87_M64FP)
            default: kind = Int32(CFPU_X87_M16INT)
            }
            let raw = try readMem(size, seg, off)
            let (b, lsw) = x87OperandConvert(kind, raw)
            if sub == 2 || sub == 3 {
                x87Compare(b, empty: stEmpty(0), unordered: false, eflags: false, pops: sub - 2, extraSW: lsw)
                return
            }
            if stEmpty(0) {
                if x87StackFault(overflow: false) { setST(0, x87Indefinite) }
                return
            }
            let (r, sw) = x87Arith(sub, st(0), b)
            x87Deliver(0, r, sw | x87OperandFlags(lsw, st(0), sw), pop: false)
        case 1:
            switch sub {
            case 0:                                              // FLD m32fp
                try x87LoadConverted(Int32(CFPU_X87_M32FP), 2, seg, off)
            case 2, 3:                                           // FST/FSTP m32fp
                try x87StoreConverted(i, Int32(CFPU_X87_M32FP), 2, pop: sub == 3)
            default:
                throw unimplementedStop("x87 D9 /\(sub) memory form")   // decoded as #UD or control
            }
        case 3:
            switch sub {
            case 0:                                              // FILD m32int
                try x87LoadConverted(Int32(CFPU_X87_M32INT), 2, seg, off)
            case 1: try x87StoreConverted(i, Int32(CFPU_X87_M32INT_T), 2, pop: true)   // FISTTP m32int
            case 2, 3: try x87StoreConverted(i, Int32(CFPU_X87_M32INT), 2, pop: sub == 3)  // FIST/FISTP m32int
            case 5:                                              // FLD m80fp: exact, no exceptions
                x87Load(try read80(i, seg, off), 0)
            case 7:                                              // FSTP m80fp
                try probeWrite(3, seg, off); try probeWrite(1, seg, x87Off(i, off, 8))
                if stEmpty(0) {
                    guard x87StackFault(overflow: false) else { return }
                    try write80(i, seg, off, x87Indefinite, probed: true)
                } else {
                    x87.status &= ~FSW.c1
                    try write80(i, seg, off, st(0), probed: true)
                }
                x87Pop()
            default:
                throw unimplementedStop("x87 DB /\(sub) memory form")
            }
        case 5:
            switch sub {
            case 0:                                              // FLD m64fp
                try x87LoadConverted(Int32(CFPU_X87_M64FP), 3, seg, off)
            case 1: try x87StoreConverted(i, Int32(CFPU_X87_M64INT_T), 3, pop: true)   // FISTTP m64int
            case 2, 3: try x87StoreConverted(i, Int32(CFPU_X87_M64FP), 3, pop: sub == 3)   // FST/FSTP m64fp
            default:
                throw unimplementedStop("x87 DD /\(sub) memory form")
            }
        default: // 7
            switch sub {
            case 0:                                              // FILD m16int
                try x87LoadConverted(Int32(CFPU_X87_M16INT), 1, seg, off)
            case 1: try x87StoreConverted(i, Int32(CFPU_X87_M16INT_T), 1, pop: true)   // FISTTP m16int
            case 2, 3: try x87StoreConverted(i, Int32(CFPU_X87_M16INT), 1, pop: sub == 3)  // FIST/FISTP m16int
            case 4:                                              // FBLD m80bcd
                let raw = try read80(i, seg, off)
                let (v, sw) = x87Convert(Int32(CFPU_X87_M80BCD), raw.m, raw.se)
                x87Load(v, sw)
            case 5:                                              // FILD m64int
                try x87LoadConverted(Int32(CFPU_X87_M64INT), 3, seg, off)
            case 6: try x87StoreConverted(i, Int32(CFPU_X87_M80BCD), 3, pop: true)     // FBSTP m80bcd
            default: try x87StoreConverted(i, Int32(CFPU_X87_M64INT), 3, pop: true)    // FISTP m64int
            }
        }
    }

    // MARK: Register forms

    func x87Register(_ esc: Int, _ sub: Int, _ rm: Int) throws(Fault) {
        switch esc {
        case 0:
            // D8: FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR  ST(0), ST(i)
            if sub == 2 || sub == 3 {
                x87Compare(st(rm), empty: stEmpty(0) || stEmpty(rm), unordered: false, eflags: false, pops: sub - 2)
                return
            }
            try x87ArithRegister(sub, dest: 0, src: rm, pop: false)
        case 4, 6:
            // DC: FADD FMUL FCOM2 FCOMP3 FSUBR FSUB FDIVR FDIV  ST(i), ST(0); DE: the P forms,
            // FCOMP5, FCOMPP (DE D9). ST(i) is the destination: E0+i "FSUBR ST(i), ST(0)" computes
            // ST(0) − ST(i), i.e. src − dest in the D8 encoding, so /4↔/5 and /6↔/7 swap.
            if sub == 2 || sub == 3 {
                let pops = esc == 6 ? (sub == 3 ? 2 : 1) : sub - 2    // DE D9 = FCOMPP, DE D0+i = FCOMP5
                x87Compare(st(rm), empty: stEmpty(0) || stEmpty(rm), unordered: false, eflags: false, pops: pops)
                return
            }
            let op = sub >= 4 ? sub ^ 1 : sub
            try x87ArithRegister(op, dest: rm, src: 0, pop: esc == 6)
        case 1:
            try x87RegisterD9(sub, rm)
        case 2:
            if sub == 5 {                                            // FUCOMPP (DA E9)
                x87Compare(st(1), empty: stEmpty(0) || stEmpty(1), unordered: true, eflags: false, pops: 2)
                return
            }
            try x87Fcmov(sub, rm, negate: false)                     // FCMOVB/E/BE/U
        case 3:
            switch sub {
            case 0...3: try x87Fcmov(sub, rm, negate: true)          // FCMOVNB/NE/NBE/NU
            case 5, 6:                                               // FUCOMI, FCOMI
                x87Compare(st(rm), empty: stEmpty(0) || stEmpty(rm), unordered: sub == 5, eflags: true, pops: 0)
            default: throw unimplementedStop("x87 DB register form /\(sub)")
            }
        case 5:
            switch sub {
            case 1: x87Fxch(rm)                                      // FXCH4 (alias)
            case 2, 3:                                               // FST/FSTP ST(i)
                x87StoreST(rm, pop: sub == 3)
            case 4, 5:                                               // FUCOM, FUCOMP
                x87Compare(st(rm), empty: stEmpty(0) || stEmpty(rm), unordered: true, eflags: false, pops: sub - 4)
            default: throw unimplementedStop("x87 DD register form /\(sub)")
            }
        default: // 7
            switch sub {
            case 1: x87Fxch(rm)                                      // FXCH7 (alias)
            case 2, 3:                                               // FSTP8, FSTP9 (aliases of FSTP ST(i))
                x87StoreST(rm, pop: true)
            case 5, 6:                                               // FUCOMIP, FCOMIP
                x87Compare(st(rm), empty: stEmpty(0) || stEmpty(rm), unordered: sub == 5, eflags: true, pops: 1)
            default: throw unimplementedStop("x87 DF register form /\(sub)")
            }
        }
    }

    /// ST(dest) ← ST(dest) op ST(src), popping for the P forms.
    func x87ArithRegister(_ op: Int, dest: Int, src: Int, pop: Bool) throws(Fault) {
        if stEmpty(dest) || stEmpty(src) {
            guard x87StackFault(overflow: false) else { return }
            setST(dest, x87Indefinite)
            if pop { x87Pop() }
            return
        }
        let (r, sw) = x87Arith(op, st(dest), st(src))
        x87Deliver(dest, r, sw, pop: pop)
    }

    /// FXCH ST(i) (SDM Vol. 2A "FXCH"): an empty operand is replaced by the indefinite when IE is masked.
    func x87Fxch(_ rm: Int) {
        var a = st(0), b = st(rm)
        if stEmpty(0) || stEmpty(rm) {
            guard x87StackFault(overflow: false) else { return }
            if stEmpty(0) { a = x87Indefinite }
            if stEmpty(rm) { b = x87Indefinite }
        } else {
            x87.status &= ~FSW.c1
        }
        setST(0, b)
        setST(rm, a)
    }

    /// FCMOVcc (SDM Vol. 2A "FCMOVcc"): /0 B (CF), /1 E (ZF), /2 BE (CF or ZF), /3 U (PF); DB negates.
    func x87Fcmov(_ sub: Int, _ rm: Int, negate: Bool) throws(Fault) {
        if stEmpty(0) || stEmpty(rm) {
            if x87StackFault(overflow: false) { setST(0, x87Indefinite) }
            return
        }
        let f = flags()
        var c: Bool
        switch sub {
        case 0: c = f & RFLAGS.cf != 0
        case 1: c = f & RFLAGS.zf != 0
        case 2: c = f & (RFLAGS.cf | RFLAGS.zf) != 0
        default: c = f & RFLAGS.pf != 0
        }
        if negate { c = !c }
        x87.status &= ~FSW.c1
        if c { setST(0, st(rm)) }
    }

    /// D9 register forms.
    func x87RegisterD9(_ sub: Int, _ rm: Int) throws(Fault) {
        switch sub {
        case 0:                                                  // FLD ST(i)
            if stEmpty(rm) {
                // Push slot check first, then the source (both are #IS).
                if x87.emptyMask & (1 << UInt8(x87.physical(7))) == 0 {
                    if x87StackFault(overflow: true) { x87Push(x87Indefinite) }
                    return
                }
                if x87StackFault(overflow: false) { x87Push(x87Indefinite) }
                return
            }
            x87Load(st(rm), 0)
        case 1: x87Fxch(rm)                                      // FXCH
        case 3:                                                  // FSTP1 (alias of FSTP ST(i))
            x87StoreST(rm, pop: true)
        case 4:
            switch rm {
            case 0, 1:                                           // FCHS, FABS: sign bit only, no IE on SNaN
                if stEmpty(0) {
                    if x87StackFault(overflow: false) { setST(0, x87Indefinite) }
                    return
                }
                var v = st(0)
                v.se = rm == 0 ? v.se ^ 0x8000 : v.se & 0x7FFF
                x87.status &= ~FSW.c1
                setST(0, v)
            case 4:                                              // FTST
                if stEmpty(0) {
                    if x87StackFault(overflow: false) { x87CC(FSW.c0 | FSW.c2 | FSW.c3, FSW.c0 | FSW.c2 | FSW.c3) }
                    return
                }
                var a = st(0)
                let sw = cfpu_x87_examine(hostCW(), Int32(CFPU_X87_TST), &a, &a)
                if x87Raise(sw) & (FSW.ie | FSW.de) != 0 { return }
                x87CC(sw, FSW.c0 | FSW.c2 | FSW.c3)
                x87.status &= ~FSW.c1
            case 5:                                              // FXAM (SDM Vol. 2A "FXAM", Table 3-x): empty = C3 C0, C1 = sign
                let v = st(0)
                if stEmpty(0) {
                    let c1: UInt16 = v.se & 0x8000 != 0 ? FSW.c1 : 0
                    x87CC(FSW.c3 | FSW.c0 | c1, FSW.cc)
                    return
                }
                var a = v
                let sw = cfpu_x87_examine(hostCW(), Int32(CFPU_X87_XAM), &a, &a)
                x87CC(sw, FSW.cc)
            default: throw unimplementedStop("x87 D9 E\(rm)")
            }
        case 5:                                                  // FLD1 … FLDZ (E8…EE)
            guard rm <= 6 else { throw unimplementedStop("x87 D9 EF") }
            var r = F80()
            let sw = cfpu_x87_const(hostCW(), Int32(rm), &r)
            x87Load(r, sw & FSW.exceptions)
        case 6:
            switch rm {
            case 0:                                              // F2XM1
                x87Unary(Int32(CFPU_X87_F2XM1), ccMask: FSW.c1)
            case 1:                                              // FYL2X
                x87BinaryPop(Int32(CFPU_X87_YL2X))
            case 2:                                              // FPTAN
                x87Unary2(Int32(CFPU_X87_PTAN))
            case 3:                                              // FPATAN
                x87BinaryPop(Int32(CFPU_X87_PATAN))
            case 4:                                              // FXTRACT
                x87Unary2(Int32(CFPU_X87_XTRACT))
            case 5:                                              // FPREM1
                x87BinaryST0(Int32(CFPU_X87_PREM1), ccMask: FSW.cc)
            default:
                throw unimplementedStop("x87 D9 F\(rm)")          // F6/F7 handled as control
            }
        case 7:
            switch rm {
            case 0: x87BinaryST0(Int32(CFPU_X87_PREM), ccMask: FSW.cc)     // FPREM
            case 1: x87BinaryPop(Int32(CFPU_X87_YL2XP1))   // FYL2XP1
            case 2: x87Unary(Int32(CFPU_X87_SQRT), ccMask: FSW.c1)         // FSQRT
            case 3: x87Unary2(Int32(CFPU_X87_SINCOS))                 // FSINCOS
            case 4: x87Unary(Int32(CFPU_X87_RNDINT), ccMask: FSW.c1)       // FRNDINT
            case 5: x87BinaryST0(Int32(CFPU_X87_SCALE), ccMask: FSW.c1)    // FSCALE
            case 6: x87Unary(Int32(CFPU_X87_SIN), ccMask: FSW.c1 | FSW.c2) // FSIN (C2 = out of range)
            default: x87Unary(Int32(CFPU_X87_COS), ccMask: FSW.c1 | FSW.c2) // FCOS
            }
        default:
            throw unimplementedStop("x87 D9 register form /\(sub)")
        }
    }

    /// ST(0) ← op(ST(0)): FSQRT FRNDINT F2XM1 FSIN FCOS. For FSIN/FCOS out of range (C2 = 1) the
    /// host leaves the operand, which is what is written back.
    func x87Unary(_ op: Int32, ccMask: UInt16) {
        if stEmpty(0) {
            if x87StackFault(overflow: false) { setST(0, x87Indefinite) }
            return
        }
        var a = st(0), r = F80()
        let sw = cfpu_x87_unary(hostCW(true), op, &a, &r)
        let unmasked = x87Raise(sw)
        if unmasked & (FSW.ie | FSW.de | FSW.ze) != 0 { return }
        x87CC(sw, ccMask)
        setST(0, r)
    }

    /// ST(0) ← ST(0) op ST(1): FPREM FPREM1 (C0 C3 C1 = quotient bits Q2 Q0 Q1, C2 = incomplete),
    /// FSCALE.
    func x87BinaryST0(_ op: Int32, ccMask: UInt16) {
        if stEmpty(0) || stEmpty(1) {
            if x87StackFault(overflow: false) { setST(0, x87Indefinite) }
            return
        }
        var a = st(0), b = st(1), r = F80()
        let sw = cfpu_x87_binary(hostCW(true), op, &a, &b, &r)
        let unmasked = x87Raise(sw)
        if unmasked & (FSW.ie | FSW.de | FSW.ze) != 0 { return }
        if (op == Int32(CFPU_X87_PREM) || op == Int32(CFPU_X87_PREM1)) && r.se & 0x7FFF == 0x7FFF && r.m << 1 != 0 {
            // A NaN result (a NaN operand, or a masked invalid operation) has no quotient: the
            // host FPU leaves C0–C3 as they were, silicon (KVMDiffTests, seed 0x1D1FF0002)
            // clears them.
            x87.status &= ~FSW.cc
        } else {
            x87CC(sw, ccMask)
        }
        setST(0, r)
    }

    /// ST(1) ← f(ST(0), ST(1)), pop: FYL2X FYL2XP1 FPATAN.
    func x87BinaryPop(_ op: Int32) {
        if stEmpty(0) || stEmpty(1) {
            guard x87StackFault(overflow: false) else { return }
            setST(1, x87Indefinite)
            x87Pop()
            return
        }
        var a = st(0), b = st(1), r = F80()
        // The host runs with the guest's OM/UM: an unmasked overflow/underflow stores the
        // bias-adjusted result (exponent ∓ 24576) in the destination register and still pops
        // (SDM Vol. 1 §8.5.4 "Numeric Overflow Exception (#O)", §8.5.5 "Numeric Underflow
        // Exception (#U)"); the #MF follows at the next waiting instruction.
        let sw = cfpu_x87_binary_pop(hostCW(true), op, &a, &b, &r)
        let unmasked = x87Raise(sw)
        if unmasked & (FSW.ie | FSW.de | FSW.ze) != 0 { return }
        x87CC(sw, FSW.c1)
        setST(1, r)
        x87Pop()
    }

    /// FPTAN (ST(0) ← tan, push 1.0), FSINCOS (ST(0) ← sin, push cos), FXTRACT (ST(0) ← exponent,
    /// push significand). Stack underflow or overflow (ST(7) in use), masked: ST(0) and the pushed
    /// value become the indefinite.
    func x87Unary2(_ op: Int32) {
        let overflow = x87.emptyMask & (1 << UInt8(x87.physical(7))) == 0
        if stEmpty(0) || overflow {
            guard x87StackFault(overflow: !stEmpty(0)) else { return }
            setST(0, x87Indefinite)
            x87Push(x87Indefinite)
            return
        }
        var a = st(0), r0 = F80(), r1 = F80()
        // Guest OM/UM on the host, as for `x87BinaryPop`: an unmasked underflow of FPTAN/FSINCOS
        // (a denormal operand) leaves the bias-adjusted result (SDM Vol. 1 §8.5.5).
        let sw = cfpu_x87_unary2(hostCW(true), op, &a, &r0, &r1)
        let unmasked = x87Raise(sw)
        if unmasked & (FSW.ie | FSW.de | FSW.ze) != 0 { return }
        if op != Int32(CFPU_X87_XTRACT) {
            x87CC(sw, FSW.c1 | FSW.c2)
            if sw & FSW.c2 != 0 { return }               // out of range: operand unchanged, nothing pushed
        } else {
            x87CC(sw, FSW.c1)
        }
        setST(0, r1)
        x87Push(r0)
    }

    // MARK: Control instructions with memory operands

    /// Real-address or virtual-8086 mode: the environment images store linear instruction and
    /// data pointers (SDM Vol. 1 §8.1.10 "Saving the x87 FPU's State with FSTENV/FNSTENV and FSAVE/FNSAVE").
    var x87RealImage: Bool { cr0 & CR0.pe == 0 || flagsRest & RFLAGS.vm != 0 }

    func x87ControlMem(_ i: UnsafePointer<Insn>, _ esc: Int, _ sub: Int) throws(Fault) {
        let seg = Int(i.pointee.seg), off = ea(i)
        let small = i.pointee.osz == 1          // 16-bit operand size: the 14-byte image
        let envSize: UInt64 = small ? 14 : 28
        switch (esc, sub) {
        case (1, 5):                                             // FLDCW m2byte
            try x87CheckPending()
            let v = UInt16(truncatingIfNeeded: try readMem(1, seg, off))
            x87.fcw = (v & ~0xE0C0) | 0x40          // reserved bits 15:13, 7:6; bit 6 reads as 1
            x87RecomputeES()
        case (1, 7):                                             // FNSTCW m2byte
            try writeMem(1, seg, off, UInt64(x87.fcw))
        case (5, 7):                                             // FNSTSW m2byte
            try writeMem(1, seg, off, UInt64(x87.fsw))
        case (1, 6):                                             // FNSTENV: then all exceptions masked
            try probeWrite(0, seg, off); try probeWrite(0, seg, x87Off(i, off, envSize - 1))
            try x87StoreEnv(i, seg, off, small: small)
            x87.fcw |= 0x3F
        case (5, 6):                                             // FNSAVE: environment, ST(0)…ST(7), then FNINIT
            let total = envSize + 80
            try probeWrite(0, seg, off); try probeWrite(0, seg, x87Off(i, off, total - 1))
            try x87StoreEnv(i, seg, off, small: small)
            for k in 0..<8 {
                try write80(i, seg, x87Off(i, off, envSize + UInt64(k) * 10), st(k), probed: true)
            }
            x87Init()
        case (1, 4):                                             // FLDENV
            try x87CheckPending()
            _ = try readMem(0, seg, x87Off(i, off, envSize - 1))
            try x87LoadEnv(i, seg, off, small: small)
        default:                                                 // (5, 4) FRSTOR
            try x87CheckPending()
            let total = envSize + 80
            _ = try readMem(0, seg, off); _ = try readMem(0, seg, x87Off(i, off, total - 1))
            // Both ends are readable now (the translations and segment limits checked), so the
            // reads below cannot fault half-way: load the environment, then the registers in
            // stack order relative to the loaded TOP.
            try x87LoadEnv(i, seg, off, small: small)
            for k in 0..<8 {
                let v = try read80(i, seg, x87Off(i, off, envSize + UInt64(k) * 10))
                x87.setRegister(x87.physical(k), mantissa: v.m, signExponent: v.se)
            }
        }
    }

    /// FNSTENV image (SDM Vol. 1 §8.1.10, Figures 8-9 "Protected Mode x87 FPU State Image in
    /// Memory, 32-Bit Format", 8-10 "Real Mode …, 32-Bit Format", 8-11 "Protected Mode …, 16-Bit
    /// Format", 8-12 "Real Mode …, 16-Bit Format"). Reserved halves are written as 1s, as Intel
    /// processors do. In 64-bit mode the 32-bit protected-mode layout is used (offsets truncated).
    func x87StoreEnv(_ i: UnsafePointer<Insn>, _ seg: Int, _ off: UInt64, small: Bool) throws(Fault) {
        let real = x87RealImage
        let fip = real ? (UInt64(x87.fcs) << 4 &+ x87.fip) & 0xFFFF_FFFF : x87.fip
        let fdp = real ? (UInt64(x87.fds) << 4 &+ x87.fdp) & 0xFFFF_FFFF : x87.fdp
        let fop = UInt64(x87.fop & 0x7FF)
        if small {
            let w: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
            if real {
                w = (UInt64(x87.fcw), UInt64(x87.fsw), UInt64(x87.ftw), fip & 0xFFFF,
                     (fip >> 16 & 0xF) << 12 | fop, fdp & 0xFFFF, (fdp >> 16 & 0xF) << 12)
            } else {
                w = (UInt64(x87.fcw), UInt64(x87.fsw), UInt64(x87.ftw), fip & 0xFFFF,
                     UInt64(x87.fcs), fdp & 0xFFFF, UInt64(x87.fds))
            }
            try writeMem(1, seg, off, w.0)
            try writeMem(1, seg, x87Off(i, off, 2), w.1)
            try writeMem(1, seg, x87Off(i, off, 4), w.2)
            try writeMem(1, seg, x87Off(i, off, 6), w.3)
            try writeMem(1, seg, x87Off(i, off, 8), w.4)
            try writeMem(1, seg, x87Off(i, off, 10), w.5)
            try writeMem(1, seg, x87Off(i, off, 12), w.6)
        } else {
            let hi: UInt64 = 0xFFFF_0000
            let d: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
            if real {
                d = (hi | UInt64(x87.fcw), hi | UInt64(x87.fsw), hi | UInt64(x87.ftw), hi | fip & 0xFFFF,
                     (fip >> 16 & 0xFFFF) << 12 | fop, hi | fdp & 0xFFFF, (fdp >> 16 & 0xFFFF) << 12)
            } else {
                d = (hi | UInt64(x87.fcw), hi | UInt64(x87.fsw), hi | UInt64(x87.ftw), fip & 0xFFFF_FFFF,
                     fop << 16 | UInt64(x87.fcs), fdp & 0xFFFF_FFFF, hi | UInt64(x87.fds))
            }
            try writeMem(2, seg, off, d.0)
            try writeMem(2, seg, x87Off(i, off, 4), d.1)
            try writeMem(2, seg, x87Off(i, off, 8), d.2)
            try writeMem(2, seg, x87Off(i, off, 12), d.3)
            try writeMem(2, seg, x87Off(i, off, 16), d.4)
            try writeMem(2, seg, x87Off(i, off, 20), d.5)
            try writeMem(2, seg, x87Off(i, off, 24), d.6)
        }
    }

    /// FLDENV/FRSTOR: the inverse of `x87StoreEnv`. Only the empty/non-empty distinction of the
    /// loaded tag word is kept (SDM Vol. 1 §8.1.7: the tags of non-empty registers are derived
    /// from their contents). ES/B follow the loaded flags and masks.
    func x87LoadEnv(_ i: UnsafePointer<Insn>, _ seg: Int, _ off: UInt64, small: Bool) throws(Fault) {
        let real = x87RealImage
        var fcw, fsw, ftw, fip, fcs, fdp, fds, fop: UInt64
        if small {
            fcw = try readMem(1, seg, off)
            fsw = try readMem(1, seg, x87Off(i, off, 2))
            ftw = try readMem(1, seg, x87Off(i, off, 4))
            let w3 = try readMem(1, seg, x87Off(i, off, 6)), w4 = try readMem(1, seg, x87Off(i, off, 8))
            let w5 = try readMem(1, seg, x87Off(i, off, 10)), w6 = try readMem(1, seg, x87Off(i, off, 12))
            if real {
                fip = w3 | (w4 >> 12) << 16; fop = w4 & 0x7FF; fcs = 0
                fdp = w5 | (w6 >> 12) << 16; fds = 0
            } else {
                fip = w3; fcs = w4; fdp = w5; fds = w6
                fop = UInt64(x87.fop)   // the 16-bit protected-mode image has no FOP field
            }
        } else {
            fcw = try readMem(2, seg, off) & 0xFFFF
            fsw = try readMem(2, seg, x87Off(i, off, 4)) & 0xFFFF
            ftw = try readMem(2, seg, x87Off(i, off, 8)) & 0xFFFF
            let d3 = try readMem(2, seg, x87Off(i, off, 12)), d4 = try readMem(2, seg, x87Off(i, off, 16))
            let d5 = try readMem(2, seg, x87Off(i, off, 20)), d6 = try readMem(2, seg, x87Off(i, off, 24))
            if real {
                fip = (d3 & 0xFFFF) | ((d4 >> 12) & 0xFFFF) << 16; fop = d4 & 0x7FF; fcs = 0
                fdp = (d5 & 0xFFFF) | ((d6 >> 12) & 0xFFFF) << 16; fds = 0
            } else {
                fip = d3; fcs = d4 & 0xFFFF; fop = (d4 >> 16) & 0x7FF; fdp = d5; fds = d6 & 0xFFFF
            }
        }
        x87.fcw = (UInt16(truncatingIfNeeded: fcw) & ~0xE0C0) | 0x40
        x87.fsw = UInt16(truncatingIfNeeded: fsw)
        var empty: UInt8 = 0
        for p in 0..<8 where (ftw >> UInt64(2 * p)) & 3 == 3 { empty |= 1 << UInt8(p) }
        x87.emptyMask = empty
        x87.fip = fip; x87.fcs = UInt16(truncatingIfNeeded: fcs)
        x87.fdp = fdp; x87.fds = UInt16(truncatingIfNeeded: fds)
        x87.fop = UInt16(truncatingIfNeeded: fop)
        x87RecomputeES()
    }

    // MARK: FXSAVE / FXRSTOR

    /// FXSAVE/FXRSTOR m512byte (SDM Vol. 2A "FXSAVE—Save x87 FPU, MMX Technology, and SSE State",
    /// Tables 10-2 and 10-3 "Format of an FXSAVE Area" for the default and the REX.W (FXSAVE64)
    /// layout; "FXRSTOR"). Neither waits for pending x87 exceptions. The XMM registers and MXCSR
    /// are saved and restored whatever CR4.OSFXSR says (the SDM leaves that
    /// implementation-dependent; Intel processors do so). XMM8–15 only in 64-bit mode.
    func fxsaveOrRestore(_ i: UnsafePointer<Insn>) throws(Fault) {
        // #UD if CR0.EM = 1; #NM if CR0.TS = 1 (SDM Vol. 2A "FXSAVE", Protected Mode Exceptions).
        if cr0 & CR0.em != 0 { throw Fault.UD() }
        if cr0 & CR0.ts != 0 { throw Fault.NM() }
        let seg = Int(i.pointee.seg), off = ea(i)
        // #GP(0): memory operand not aligned on a 16-byte boundary, regardless of segment.
        if (segBase[seg] &+ off) & 0xF != 0 { throw Fault.GP(0) }
        if i.pointee.modrmReg == 0 {
            // Probe both ends of the 512 bytes (at most two pages, and the segment limit) first.
            try probeWrite(3, seg, off); try probeWrite(3, seg, x87Off(i, off, 504))
            try saveLegacyRegion(i, seg, off, x87: true, sse: true)
        } else {
            _ = try readMem(3, seg, x87Off(i, off, 504))                       // both ends readable
            try restoreLegacyRegion(i, seg, off, x87: true, sse: true)
        }
    }

    /// The 512-byte legacy region of FXSAVE and XSAVE (Tables 10-2/10-3): the x87 part (bytes
    /// 0–23, 32–159) and the SSE part (MXCSR and MXCSR_MASK at 24–31, XMM at 160–415). The caller
    /// has checked alignment and probed the area.
    func saveLegacyRegion(_ i: UnsafePointer<Insn>, _ seg: Int, _ off: UInt64, x87 saveX87: Bool, sse: Bool) throws(Fault) {
        let wide = i.pointee.osz == 3 && codeMode == 2          // REX.W: 64-bit FIP/FDP
        let nxmm = codeMode == 2 ? 16 : 8
        if saveX87 {
            try writeMem(1, seg, off, UInt64(x87.fcw))
            try writeMem(1, seg, x87Off(i, off, 2), UInt64(x87.fsw))
            try writeMem(1, seg, x87Off(i, off, 4), UInt64(x87.abridgedTag))    // byte 5 reserved: 0
            try writeMem(1, seg, x87Off(i, off, 6), UInt64(x87.fop & 0x7FF))
            if wide {
                try writeMem(3, seg, x87Off(i, off, 8), x87.fip)
                try writeMem(3, seg, x87Off(i, off, 16), x87.fdp)
            } else {
                try writeMem(2, seg, x87Off(i, off, 8), x87.fip & 0xFFFF_FFFF)
                try writeMem(2, seg, x87Off(i, off, 12), UInt64(x87.fcs))
                try writeMem(2, seg, x87Off(i, off, 16), x87.fdp & 0xFFFF_FFFF)
                try writeMem(2, seg, x87Off(i, off, 20), UInt64(x87.fds))
            }
            for k in 0..<8 {
                let v = st(k)
                let a = x87Off(i, off, 32 + UInt64(k) * 16)
                try writeMem(3, seg, a, v.m)
                try writeMem(3, seg, x87Off(i, a, 8), UInt64(v.se))             // + 6 reserved bytes of 0
            }
        }
        if sse {
            try writeMem(2, seg, x87Off(i, off, 24), UInt64(mxcsr))
            try writeMem(2, seg, x87Off(i, off, 28), 0x0000_FFFF)                // MXCSR_MASK
            for k in 0..<nxmm {
                let a = x87Off(i, off, 160 + UInt64(k) * 16)
                try writeMem(3, seg, a, xmm[2 * k])
                try writeMem(3, seg, x87Off(i, a, 8), xmm[2 * k + 1])
            }
        }
    }

    /// Loads what `saveLegacyRegion` stores; every read happens before any state changes.
    func restoreLegacyRegion(_ i: UnsafePointer<Insn>, _ seg: Int, _ off: UInt64, x87 loadX87: Bool, sse: Bool) throws(Fault) {
        let wide = i.pointee.osz == 3 && codeMode == 2
        let nxmm = codeMode == 2 ? 16 : 8
        var newMXCSR = mxcsr
        if sse {
            newMXCSR = UInt32(truncatingIfNeeded: try readMem(2, seg, x87Off(i, off, 24)))
            // #GP(0) for reserved MXCSR bits (MXCSR_MASK = 0000FFFFH, SDM Vol. 1 §11.6.6 "Guidelines
            // for Writing to the MXCSR Register").
            if newMXCSR & 0xFFFF_0000 != 0 { throw Fault.GP(0) }
        }
        if loadX87 {
            let fcw = try readMem(1, seg, off)
            let fsw = try readMem(1, seg, x87Off(i, off, 2))
            let ftw = try readMem(0, seg, x87Off(i, off, 4))
            let fop = try readMem(1, seg, x87Off(i, off, 6))
            var fip, fdp, fcs, fds: UInt64
            if wide {
                fip = try readMem(3, seg, x87Off(i, off, 8)); fdp = try readMem(3, seg, x87Off(i, off, 16))
                fcs = UInt64(x87.fcs); fds = UInt64(x87.fds)
            } else {
                fip = try readMem(2, seg, x87Off(i, off, 8)); fcs = try readMem(1, seg, x87Off(i, off, 12))
                fdp = try readMem(2, seg, x87Off(i, off, 16)); fds = try readMem(1, seg, x87Off(i, off, 20))
            }
            // Everything below is readable (both pages translated): load the state.
            x87.fcw = (UInt16(truncatingIfNeeded: fcw) & ~0xE0C0) | 0x40
            x87.fsw = UInt16(truncatingIfNeeded: fsw)
            x87.emptyMask = ~UInt8(truncatingIfNeeded: ftw)
            x87.fop = UInt16(truncatingIfNeeded: fop) & 0x7FF
            x87.fip = fip; x87.fdp = fdp
            x87.fcs = UInt16(truncatingIfNeeded: fcs); x87.fds = UInt16(truncatingIfNeeded: fds)
            x87RecomputeES()
            for k in 0..<8 {
                let a = x87Off(i, off, 32 + UInt64(k) * 16)
                let m = try readMem(3, seg, a), se = try readMem(1, seg, x87Off(i, a, 8))
                x87.setRegister(x87.physical(k), mantissa: m, signExponent: UInt16(truncatingIfNeeded: se))
            }
        }
        if sse {
            mxcsr = newMXCSR
            for k in 0..<nxmm {
                let a = x87Off(i, off, 160 + UInt64(k) * 16)
                xmm[2 * k] = try readMem(3, seg, a)
                xmm[2 * k + 1] = try readMem(3, seg, x87Off(i, a, 8))
            }
        }
    }
}

extension CPU {
    /// FST/FSTP ST(i) and the FSTP1/FSTP8/FSTP9 aliases: ST(i) ← ST(0), C1 cleared; an empty
    /// ST(0) is a stack underflow (masked: the real indefinite is stored; unmasked: nothing
    /// happens, not even the pop) — SDM Vol. 1 §8.5.1.1 "Stack Overflow or Underflow Exception (#IS)".
    func x87StoreST(_ rm: Int, pop: Bool) {
        if stEmpty(0) {
            guard x87StackFault(overflow: false) else { return }
            setST(rm, x87Indefinite)
        } else {
            x87.status &= ~FSW.c1
            setST(rm, st(0))
        }
        if pop { x87Pop() }
    }
}

extension CPU {
    /// FLD m32fp/m64fp, FILD m16/32/64int: read the operand, convert it on the host, push it.
    func x87LoadConverted(_ kind: Int32, _ size: UInt8, _ seg: Int, _ off: UInt64) throws(Fault) {
        let (v, sw) = x87Convert(kind, try readMem(size, seg, off))
        x87Load(v, sw)
    }
}
