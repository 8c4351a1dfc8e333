/// The instruction decoder (SDM Vol. 2 ch. 2 "Instruction Format" and Appendix A "Opcode Map").
///
/// An instruction is decoded once into an `Insn` — a small value with everything execution
/// needs (operation, operand size, ModRM operands, displacement, immediates) — and cached by
/// physical address in blocks (`BlockCache`). Execution never looks at instruction bytes again.

/// Operations. Forms that share semantics share an op; a named `Insn` accessor selects the
/// variant (`aluOp`, `conditionCode`, `modrmReg` of a group member, …).
public enum Op: UInt16, Sendable {
    case unimplemented, ud
    // Integer ALU: `aluOp` = 0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP
    case aluEG, aluGE, aluEI
    case testEG, testEI
    case incE, decE, notE, negE, mulE, imul1E, divE, idivE, imulGE, imulGEI
    case movEG, movGE, movEI, movES, movSE, lea, movzx, movsx, movsxd, movbeGM, movbeMG
    case xchgEG
    case push, pop, pushI, pushE, popE, pushSeg, popSeg, pusha, popa, pushf, popf
    case cbw, cwd, lahf, sahf
    // Shifts: `shiftOp` = 0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL, 5 SHR, 6 SAL(=SHL), 7 SAR; `countSource`
    case shiftE, shld, shrd
    case jcc, jmpRel, callRel, ret, jmpE, callE, jmpFar, jmpFarE, callFar, callFarE, retFar, iret
    case loop, jcxz
    case int3, intN, into, int1, hlt, cmc, clc, stc, cli, sti, cld, std, nop, pause
    case setcc, cmovcc, btE, bsf, bsr, tzcnt, lzcnt, popcnt, bswap, xadd, cmpxchg, cmpxchg8b
    case movs, cmps, stos, lods, scas, ins, outs
    case inPort, outPort
    case enter, leave, xlat
    // System
    case lgdt, lidt, sgdt, sidt, lldt, ltr, sldt, str, smsw, lmsw, invlpg, swapgs, rdtscp, rdpid
    case movFromCR, movToCR, movFromDR, movToDR, wrmsr, rdmsr, rdtsc, rdpmc, cpuid
    case loadFarPointer   // LES/LDS/LSS/LFS/LGS Gv, Mp: `segmentRegister`
    case syscall, sysret, sysenter, sysexit, clts, invd, wbinvd, lar, lsl, verr, verw
    case clflush, rdrand   // RDRAND (`modrmReg` 6) and RDSEED (7)
    case fsgsbase           // RDFSBASE RDGSBASE WRFSBASE WRGSBASE: `modrmReg` 0…3
    case adx                // ADCX (`modrmReg` 0), ADOX (1)
    case bmi                // BMI1/BMI2 (VEX): `bmiForm`, `vexRegister` (`VEXTable`)
    // Legacy forms outside 64-bit mode (CPU+Legacy): DAA DAS AAA AAS AAM AAD (`bcdOp` 0…5), SALC, ARPL, BOUND
    case bcd, salc, arpl, bound
    case invpcid            // INVPCID r, m128 (66 0F 38 82): reg = the type register
    case xgetbv, xsetbv, xsave   // XSAVE (`modrmReg` 4), XRSTOR (5), XSAVEOPT (6): CPU+XSave
    // VMX (SDM Vol. 3C ch. 30 "VMX Instruction Reference")
    case vmxon, vmxoff, vmclear, vmptrld, vmptrst, vmread, vmwrite, vmlaunch, vmresume, vmcall
    case monitor, mwait
    // x87 (CPU+X87), FXSAVE/FXRSTOR, SSE–SSE4.2 (CPU+SSE): see those files for the fields used.
    case x87, fxsave, sse
    // Fast forms: the commonest compiler-emitted shapes, chosen at decode time by `specialize()`
    // so execution skips operand-size and operand-kind dispatch. RR forms: dst = reg, src = rm.
    case mov64RR, mov32RR, load64, load32, store64, store32, movRI
    case aluRR64, aluRR32, aluRI64, aluRI32, testRR64, testRR32, lea64
    case push64, pop64, call64, ret64, incR64, decR64, incR32, decR32, testRI
}

/// One decoded instruction. `reg`/`rm` hold register numbers; for byte operands without a REX
/// prefix, 16…19 stand for AH, CH, DH, BH.
public struct Insn: Sendable {
    public var op: Op = .unimplemented
    public var len: UInt8 = 0
    /// Operand size code: 0 = 8, 1 = 16, 2 = 32, 3 = 64 bits.
    public var osz: UInt8 = 2
    /// Address size code: 1 = 16, 2 = 32, 3 = 64 bits.
    public var asz: UInt8 = 2
    /// Segment of the memory operand (default already resolved).
    public var seg: UInt8 = 3
    /// 0 none, 1 REP/REPE (F3), 2 REPNE (F2)
    public var rep: UInt8 = 0
    public var reg: UInt8 = 0
    public var rm: UInt8 = 0
    public var mem: Bool = false
    /// Index into `CPU.regs`: 0…15 a GPR, 16 = RIP (RIP-relative), 17 = none (the slot that is always 0)
    public var base: UInt8 = 17
    /// 0…15 a GPR, 17 = none
    public var index: UInt8 = 17
    public var scale: UInt8 = 0
    public var sub: UInt8 = 0
    public var lock: Bool = false
    public var disp: UInt64 = 0
    public var imm: UInt64 = 0
    /// A second operand whose meaning depends on `op`: read it through the named accessors below.
    public var imm2: UInt64 = 0
    public init() {}
}

/// Named views of the fields `sub` and `imm2`, whose meaning depends on the operation. Each is
/// a plain load of the field (no cost on the execution path); the decoder writes them.
extension Insn {
    /// ModRM.reg, where it selects the group member or a segment/control register.
    @inline(__always) public var modrmReg: UInt8 { get { sub } set { sub = newValue } }
    /// ALU operation (`aluEG`, `aluGE`, `aluEI` and their fast forms): 0 ADD, 1 OR, 2 ADC, 3 SBB,
    /// 4 AND, 5 SUB, 6 XOR, 7 CMP — opcode bits 5:3 or ModRM.reg of Group 1 (SDM Vol. 2D Table A-6).
    @inline(__always) public var aluOp: UInt8 { get { sub } set { sub = newValue } }
    /// Condition code of Jcc, SETcc, CMOVcc: the opcode's low four bits (SDM Vol. 1 Appendix B
    /// "EFLAGS Condition Codes").
    @inline(__always) public var conditionCode: UInt8 { get { sub } set { sub = newValue } }
    /// Shift or rotate (`shiftE`): 0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL, 5 SHR, 6 SAL, 7 SAR (Group 2).
    @inline(__always) public var shiftOp: UInt8 { get { sub } set { sub = newValue } }
    /// Where a shift count comes from (`shiftE`, `shld`, `shrd`): `Insn.countOne`, `countCL`, `countImm8`.
    @inline(__always) public var countSource: UInt64 { get { imm2 } set { imm2 = newValue } }
    public static let countOne: UInt64 = 0, countCL: UInt64 = 1, countImm8: UInt64 = 2
    /// Bit test (`btE`): 4 BT, 5 BTS, 6 BTR, 7 BTC (Group 8 numbering).
    @inline(__always) public var bitOp: UInt8 { get { sub } set { sub = newValue } }
    /// `btE`: the bit offset is the imm8 (0F BA), not a register.
    @inline(__always) public var bitOffsetIsImmediate: Bool { get { imm2 == 1 } set { imm2 = newValue ? 1 : 0 } }
    /// A segment register (ES 0 … GS 5): PUSH/POP Sreg, MOV Sreg, LES…LGS.
    @inline(__always) public var segmentRegister: UInt8 { get { sub } set { sub = newValue } }
    /// IN/OUT: the port is the imm8 (E4–E7), not DX.
    @inline(__always) public var portIsImmediate: Bool { get { sub == 1 } set { sub = newValue ? 1 : 0 } }
    /// LOOPNE (0), LOOPE (1), LOOP (2): the opcode's low two bits.
    @inline(__always) public var loopKind: UInt8 { get { sub } set { sub = newValue } }
    /// A relative branch through which the block was decoded (Jcc, JMP, CALL): the block
    /// continues at the branch target, not at the next instruction (`CPU+Run`).
    @inline(__always) public var continuesAtTarget: Bool { get { imm2 == 1 } set { imm2 = newValue ? 1 : 0 } }
    /// JMP/CALL ptr16:16/32: the selector.
    @inline(__always) public var farSelector: UInt16 { get { UInt16(truncatingIfNeeded: imm2) } set { imm2 = UInt64(newValue) } }
    /// MOVZX/MOVSX: size code of the source (0 byte, 1 word).
    @inline(__always) public var sourceSize: UInt8 { get { UInt8(truncatingIfNeeded: imm2) } set { imm2 = UInt64(newValue) } }
    /// ENTER: the nesting level (the second immediate).
    @inline(__always) public var nestingLevel: UInt64 { get { imm2 } set { imm2 = newValue } }
    /// `x87`: the escape opcode D8…DF as 0…7, or `Insn.fwait`.
    @inline(__always) public var x87Escape: Int { get { Int(truncatingIfNeeded: imm2) } set { imm2 = UInt64(newValue) } }
    public static let fwait = 8
    /// `sse`: the form's key in `SIMDTable` (column << 16 | map << 8 | opcode).
    @inline(__always) public var simdKey: Int { Int(truncatingIfNeeded: imm2 & 0x3FFFF) }
    /// `sse`: which executor runs the form (`SIMDForm.unit`).
    @inline(__always) public var simdUnit: UInt8 { UInt8(truncatingIfNeeded: imm2 >> 24) & 3 }
    /// `bcd`: 0 DAA, 1 DAS, 2 AAA, 3 AAS, 4 AAM, 5 AAD.
    @inline(__always) public var bcdOp: UInt8 { get { sub } set { sub = newValue } }
    /// `bmi`: the form.
    @inline(__always) public var bmiForm: UInt8 { get { sub } set { sub = newValue } }
    /// `bmi`: the register VEX.vvvv names.
    @inline(__always) public var vexRegister: UInt8 { get { UInt8(truncatingIfNeeded: imm2) } set { imm2 = UInt64(newValue) } }
    /// `xsave`: XRSTORS/XSAVEC/XSAVES (0F C7 /3–/5), not XSAVE/XRSTOR/XSAVEOPT (0F AE /4–/6).
    @inline(__always) public var xsaveCompacted: Bool { get { imm2 == 1 } set { imm2 = newValue ? 1 : 0 } }
}

/// Why decoding could not produce an instruction.
@usableFromInline enum DecodeStop: Error { case fault(Fault) }

/// Reads instruction bytes; returns nil (with the fault) if the byte cannot be fetched.
@usableFromInline struct ByteSource {
    let cpu: CPU
    let start: UInt64         // linear address of the first byte
    var pos: Int = 0
    var fault: Fault? = nil

    @inline(__always) mutating func next() throws(Fault) -> UInt8 {
        if pos >= 15 { throw Fault.GP(0) }    // SDM Vol. 2 §2.3.11: instructions are at most 15 bytes
        var lin = start &+ UInt64(pos)
        if cpu.codeMode != 2 { lin &= 0xFFFF_FFFF }
        let pa = try cpu.fetchPhys(lin)
        pos += 1
        return UInt8(truncatingIfNeeded: cpu.readPhys(pa, 1))
    }
}

extension CPU {
    /// Decode the instruction at linear address `lin` in the current mode.
    /// Throws the fault the fetch or decode raises (#PF, #GP for > 15 bytes); invalid
    /// encodings decode to `.ud`.
    @usableFromInline func decode(at lin: UInt64, csLimitCheck: Bool = true) throws(Fault) -> Insn {
        var src = ByteSource(cpu: self, start: lin)
        var i = Insn()
        let mode = codeMode
        var opsize16 = false, addr67 = false, rex: UInt8 = 0
        var segOverride: UInt8 = 0xFF
        var b: UInt8
        // Legacy prefixes (SDM Vol. 2 §2.1.1), then REX in 64-bit mode (§2.2.1).
        prefixes: while true {
            b = try src.next()
            switch b {
            case 0x66: opsize16 = true; rex = 0
            case 0x67: addr67 = true; rex = 0
            case 0x26: segOverride = 0; rex = 0
            case 0x2E: segOverride = 1; rex = 0
            case 0x36: segOverride = 2; rex = 0
            case 0x3E: segOverride = 3; rex = 0
            case 0x64: segOverride = 4; rex = 0
            case 0x65: segOverride = 5; rex = 0
            case 0xF0: i.lock = true; rex = 0
            case 0xF2: i.rep = 2; rex = 0
            case 0xF3: i.rep = 1; rex = 0
            case 0x40...0x4F where mode == 2: rex = b   // a REX not immediately before the opcode is ignored
            default: break prefixes
            }
        }
        let rexW = rex & 8 != 0
        // `var`: a VEX prefix supplies its own (inverted) R, X, B bits before ModRM is read.
        var rexR = (rex >> 2) & 1, rexX = (rex >> 1) & 1, rexB = rex & 1
        // Operand and address sizes (SDM Vol. 1 §3.6 "Operand-size and Address-size Attributes").
        let defOsz: UInt8 = mode == 0 ? 1 : 2
        let osz: UInt8 = rexW ? 3 : (opsize16 ? (defOsz == 1 ? 2 : 1) : defOsz)
        let asz: UInt8
        switch mode {
        case 2: asz = addr67 ? 2 : 3
        case 1: asz = addr67 ? 1 : 2
        default: asz = addr67 ? 2 : 1
        }
        i.osz = osz; i.asz = asz
        // Stack-width operations default to 64 bits in 64-bit mode (§2.2.1.7).
        // REX.W takes precedence over 66 (§2.2.1.2).
        let osz64: UInt8 = mode == 2 ? (opsize16 && !rexW ? 1 : 3) : osz
        // Near branches in 64-bit mode (Jcc, CALL/JMP rel and r/m, RET, LOOPcc, JrCXZ): the
        // operand size is fixed at 64 bits and a 66 prefix is ignored, so displacements are
        // rel8/rel32 and targets are never truncated to 16 bits (SDM Vol. 2A "Jcc", "CALL",
        // "JMP", "RET": "In 64-bit mode, operand size is fixed at 64 bits"; Intel, not AMD).
        let oszBranch: UInt8 = mode == 2 ? 3 : osz
        let hasRex = rex != 0

        @inline(__always) func reg8(_ r: UInt8) -> UInt8 { (!hasRex && r >= 4 && r < 8) ? r + 12 : r }

        // ModRM / SIB / displacement (§2.1.5, Tables 2-1…2-3).
        /// `byteOp`: both operands are bytes; `byteRMOnly`: only r/m is (MOVZX/MOVSX Gv, Eb).
        func modrm(_ byteOp: Bool, byteRMOnly: Bool = false) throws(Fault) {
            let m = try src.next()
            let mod = m >> 6, regf = (m >> 3) & 7, rmf = m & 7
            i.reg = regf | (rexR << 3)
            if byteOp { i.reg = reg8(i.reg) }
            i.sub = regf
            if mod == 3 {
                i.mem = false
                i.rm = rmf | (rexB << 3)
                if byteOp || byteRMOnly { i.rm = reg8(i.rm) }
                return
            }
            i.mem = true
            var defSeg: UInt8 = 3
            if asz == 1 {
                // 16-bit addressing forms.
                let bases: [UInt8] = [3, 3, 5, 5, 6, 7, 5, 3]
                let idxs: [UInt8] = [6, 7, 6, 7, 17, 17, 17, 17]
                if mod == 0 && rmf == 6 {
                    i.base = 17; i.index = 17
                    i.disp = UInt64(try src.next()) | UInt64(try src.next()) << 8
                } else {
                    i.base = bases[Int(rmf)]
                    i.index = idxs[Int(rmf)]
                    if rmf == 2 || rmf == 3 || rmf == 6 { defSeg = 2 }
                    if mod == 1 { i.disp = UInt64(bitPattern: Int64(Int8(bitPattern: try src.next()))) }
                    if mod == 2 { i.disp = UInt64(bitPattern: Int64(Int16(bitPattern: UInt16(try src.next()) | UInt16(try src.next()) << 8))) }
                }
            } else {
                var baseReg: UInt8
                if rmf == 4 {
                    let sib = try src.next()
                    let ss = sib >> 6, idx = ((sib >> 3) & 7) | (rexX << 3), bs = sib & 7
                    i.scale = ss
                    i.index = idx == 4 ? 17 : idx
                    if bs == 5 && mod == 0 {
                        baseReg = 17
                        i.disp = UInt64(bitPattern: Int64(Int32(bitPattern: try src.read32())))
                    } else {
                        baseReg = bs | (rexB << 3)
                    }
                } else if rmf == 5 && mod == 0 {
                    baseReg = mode == 2 ? 16 : 17    // RIP-relative in 64-bit mode, else disp32 alone
                    i.disp = UInt64(bitPattern: Int64(Int32(bitPattern: try src.read32())))
                } else {
                    baseReg = rmf | (rexB << 3)
                }
                i.base = baseReg
                if baseReg == 4 || baseReg == 5 { defSeg = 2 }
                if mod == 1 { i.disp = UInt64(bitPattern: Int64(Int8(bitPattern: try src.next()))) }
                if mod == 2 { i.disp = UInt64(bitPattern: Int64(Int32(bitPattern: try src.read32()))) }
            }
            i.seg = segOverride != 0xFF ? segOverride : defSeg
        }
        func immN(_ size: UInt8) throws(Fault) -> UInt64 {     // imm8/16/32, sign-extended to 64
            switch size {
            case 0: return UInt64(bitPattern: Int64(Int8(bitPattern: try src.next())))
            case 1: return UInt64(bitPattern: Int64(Int16(bitPattern: UInt16(try src.next()) | UInt16(try src.next()) << 8)))
            default: return UInt64(bitPattern: Int64(Int32(bitPattern: try src.read32())))
            }
        }
        /// Iz: 16 or 32 bits (64-bit operands take a sign-extended imm32).
        func immZ(_ size: UInt8) throws(Fault) -> UInt64 { try immN(size == 1 ? 1 : 2) }
        /// The next byte, without consuming it.
        func peek() throws(Fault) -> UInt8 { let save = src.pos; let m = try src.next(); src.pos = save; return m }
        /// Mandatory-prefix column of the SIMD tables (`SIMDTable`): 0 none, 1 66, 2 F3, 3 F2
        /// (SDM Vol. 2A §2.1.2 "Opcodes"). With several, F2/F3 select the form over 66 and the
        /// last of F2/F3 counts, as in `rep` (and as Zydis decodes them).
        let mp = i.rep == 1 ? 2 : i.rep == 2 ? 3 : opsize16 ? 1 : 0
        /// Decode the rest of an instruction described by a `SIMDTable` decode entry.
        /// `mapOpcode`: map << 8 | opcode (map 1 = 0F, 2 = 0F 38, 3 = 0F 3A); `imm2` gets the
        /// form's key and unit (`Insn.simdKey`, `Insn.simdUnit`).
        func tableForm(_ e: UInt8, _ mapOpcode: Int) throws(Fault) {
            guard e & SIMDTable.defined != 0 else { i.op = .ud; return }
            i.op = .sse
            i.imm2 = UInt64(mapOpcode) | UInt64(mp) << 16 | UInt64((e >> 4) & 3) << 24
            let modrmKind = e & 3
            if modrmKind != SIMDForm.ModRM.none.rawValue {
                try modrm(false)
                if modrmKind == SIMDForm.ModRM.memory.rawValue && !i.mem { i.op = .ud }
                if modrmKind == SIMDForm.ModRM.register.rawValue && i.mem { i.op = .ud }
            }
            if e & SIMDTable.hasImm8 != 0 { i.imm = UInt64(try src.next()) }
            if e & SIMDTable.unsupported != 0 { i.op = .ud }     // after the whole instruction: #UD with its length
        }
        /// The rest of a VEX (C4/C5) or EVEX (62) instruction, for its length: the payload bytes,
        /// the opcode, ModRM with SIB and displacement (EVEX's compressed disp8 is one byte), and
        /// an imm8 where the opcode has one — every opcode of map 0F3A, and 70-73, C2, C4-C6 of
        /// map 0F; VZEROUPPER/VZEROALL (0F 77) have no ModRM (SDM Vol. 2A §2.3.5 "The VEX Prefix",
        /// §2.6.1 "Instruction Format and EVEX"; Appendix A, Tables ). Maps the SDM does
        /// not define are #UD at the map byte.
        func vexTail(_ first: UInt8) throws(Fault) {
            let map: UInt8
            switch first {
            case 0xC5: _ = try src.next(); map = 1
            case 0xC4: map = try src.next() & 0x1F; _ = try src.next()
            default: map = try src.next() & 7; _ = try src.next(); _ = try src.next()   // EVEX: P0 (mmm), P1, P2
            }
            guard map >= 1 && map <= 3 || (first == 0x62 && (map == 5 || map == 6)) else { return }
            let op = try src.next()
            if first != 0x62 && map == 1 && op == 0x77 { return }
            try modrm(false)
            if map == 3 || (map == 1 && (0x70...0x73).contains(op)) || (map == 1 && (0xC2...0xC6).contains(op) && op != 0xC3) {
                _ = try src.next()
            }
        }

        /// A VEX instruction (SDM Vol. 2A §2.3 "Intel® Advanced Vector Extensions (Intel® AVX)"):
        /// the general-purpose BMI1/BMI2 forms (VEX.L = 0; Vol. 2A §2.5.1, Table 2-28 "Exception
        /// Definition (VEX-Encoded GPR Instructions)") decode to `Op.bmi`; everything else is AVX,
        /// which the model does not have: #UD with the instruction's length. A 66, F2, F3 or REX
        /// prefix before VEX is #UD (§2.3.2 "VEX and the LOCK prefix" … "REX prefix").
        func vexForm(_ first: UInt8) throws(Fault) {
            let save = src.pos
            let p1 = try src.next()
            var map: UInt8 = 1, w = false, vvvv: UInt8, l: UInt8, pp: UInt8
            if first == 0xC5 {
                rexR = (~p1 >> 7) & 1; rexX = 0; rexB = 0
                vvvv = (~p1 >> 3) & 0xF; l = (p1 >> 2) & 1; pp = p1 & 3
            } else {
                let p2 = try src.next()
                rexR = (~p1 >> 7) & 1; rexX = (~p1 >> 6) & 1; rexB = (~p1 >> 5) & 1
                map = p1 & 0x1F; w = p2 & 0x80 != 0
                vvvv = (~p2 >> 3) & 0xF; l = (p2 >> 2) & 1; pp = p2 & 3
            }
            // Outside 64-bit mode VEX.R, X, B and the high bit of VEX.vvvv are ignored (§2.3.5).
            let vvvvField = vvvv
            if mode != 2 { rexR = 0; rexX = 0; rexB = 0; vvvv &= 7 }
            let op = map == 2 || map == 3 ? try src.next() : 0
            // The form's row in `VEXTable`, or AVX.
            let slot = map == 2 || map == 3 ? VEXTable.slots[(Int(map &- 2) &* 256 &+ Int(op)) &* 4 &+ Int(pp)] : 0
            guard slot != 0 else {
                src.pos = save
                rexR = (rex >> 2) & 1; rexX = (rex >> 1) & 1; rexB = rex & 1
                try vexTail(first); i.op = .ud
                return
            }
            try modrm(false)
            var row = Int(slot) &- 1
            if slot & 0x80 != 0 {
                let g = VEXTable.groupRows[Int(slot & 0x7F) &* 8 &+ Int(i.modrmReg)]
                if g == 0 { i.op = .ud; return }
                row = Int(g) &- 1
            }
            let flags = VEXTable.rowFlags[row]
            if flags & VEXTable.hasImm8 != 0 { i.imm = UInt64(try src.next()) }
            i.op = l == 0 && !opsize16 && i.rep == 0 && rex == 0 && flags & VEXTable.unsupported == 0 ? .bmi : .ud
            // RORX: "VEX.vvvv is reserved and must be 1111b, otherwise instructions will #UD" —
            // all four bits, in every mode (SDM Vol. 2B "RORX").
            if flags & VEXTable.vvvvReserved != 0 && vvvvField != 0 { i.op = .ud }
            i.bmiForm = VEXTable.rowForm[row]
            i.vexRegister = vvvv
            i.osz = mode == 2 && w ? 3 : 2
        }

        i.seg = segOverride != 0xFF ? segOverride : 3
        var opc = b
        if b != 0x0F {
            switch opc {
            case 0x00...0x3F where opc & 7 < 6:
                // ALU ops: 00-05 ADD, 08 OR, 10 ADC, 18 SBB, 20 AND, 28 SUB, 30 XOR, 38 CMP.
                i.aluOp = opc >> 3
                let form = opc & 7
                let byteOp = form & 1 == 0
                i.osz = byteOp ? 0 : osz
                switch form {
                case 0, 1: i.op = .aluEG; try modrm(byteOp); i.aluOp = opc >> 3
                case 2, 3: i.op = .aluGE; try modrm(byteOp); i.aluOp = opc >> 3
                default: i.op = .aluEI; i.mem = false; i.rm = 0; i.imm = byteOp ? try immN(0) : try immZ(osz)
                }
            case 0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F:
                if mode == 2 { i.op = .ud } else {
                    i.op = opc & 1 == 0 ? .pushSeg : .popSeg
                    if opc == 0x0E { i.op = .pushSeg }
                    i.segmentRegister = opc >> 3; i.osz = osz
                }
            case 0x27, 0x2F, 0x37, 0x3F:                     // DAA DAS AAA AAS
                i.op = mode == 2 ? .ud : .bcd; i.bcdOp = (opc >> 3) & 1 | (opc >> 3) & 2
            case 0x40...0x4F:   // INC/DEC r (not 64-bit mode: there they are REX)
                i.op = opc < 0x48 ? .incE : .decE; i.mem = false; i.rm = opc & 7; i.osz = osz
            case 0x50...0x57: i.op = .push; i.rm = (opc & 7) | (rexB << 3); i.osz = osz64
            case 0x58...0x5F: i.op = .pop; i.rm = (opc & 7) | (rexB << 3); i.osz = osz64
            case 0x60: i.op = mode == 2 ? .ud : .pusha; i.osz = osz
            case 0x61: i.op = mode == 2 ? .ud : .popa; i.osz = osz
            case 0x62:
                // BOUND Gv, Ma outside 64-bit mode; with ModRM.mod = 11 there, and always in 64-bit
                // mode, the EVEX prefix (SDM Vol. 2A §2.6.1 "Instruction Format and EVEX"). No AVX-512 in the
                // modeled CPU: #UD, with the length of the EVEX instruction.
                if mode != 2, try peek() < 0xC0 { i.op = .bound; i.osz = osz; try modrm(false) }
                else { try vexTail(opc); i.op = .ud }
            case 0x63:
                if mode == 2 { i.op = .movsxd; i.osz = osz; try modrm(false) } else { i.op = .arpl; i.osz = 1; try modrm(false) }  // ARPL Ew, Gw
            case 0x68: i.op = .pushI; i.osz = osz64; i.imm = try immZ(osz64)
            case 0x6A: i.op = .pushI; i.osz = osz64; i.imm = try immN(0)
            case 0x69: i.op = .imulGEI; i.osz = osz; try modrm(false); i.imm = try immZ(osz)
            case 0x6B: i.op = .imulGEI; i.osz = osz; try modrm(false); i.imm = try immN(0)
            case 0x6C, 0x6D: i.op = .ins; i.osz = opc & 1 == 0 ? 0 : (osz == 3 ? 2 : osz)
            case 0x6E, 0x6F: i.op = .outs; i.osz = opc & 1 == 0 ? 0 : (osz == 3 ? 2 : osz)
            case 0x70...0x7F:
                i.op = .jcc; i.conditionCode = opc & 0xF; i.osz = oszBranch; i.imm = try immN(0)
            case 0x80, 0x81, 0x82, 0x83:
                if opc == 0x82 && mode == 2 { i.op = .ud; break }
                let byteOp = opc != 0x81 && opc != 0x83
                i.osz = byteOp ? 0 : osz
                i.op = .aluEI; try modrm(byteOp)
                i.imm = opc == 0x81 ? try immZ(osz) : try immN(0)
            case 0x84, 0x85: i.op = .testEG; i.osz = opc == 0x84 ? 0 : osz; try modrm(opc == 0x84)
            case 0x86, 0x87: i.op = .xchgEG; i.osz = opc == 0x86 ? 0 : osz; try modrm(opc == 0x86)
            case 0x88, 0x89: i.op = .movEG; i.osz = opc == 0x88 ? 0 : osz; try modrm(opc == 0x88)
            case 0x8A, 0x8B: i.op = .movGE; i.osz = opc == 0x8A ? 0 : osz; try modrm(opc == 0x8A)
            case 0x8C: i.op = .movES; i.osz = osz; try modrm(false); if i.sub > 5 { i.op = .ud }
            case 0x8D: i.op = .lea; i.osz = osz; try modrm(false); if !i.mem { i.op = .ud }
            case 0x8E: i.op = .movSE; i.osz = 1; try modrm(false); if i.sub > 5 || i.sub == 1 { i.op = .ud }
            case 0x8F: i.op = .popE; i.osz = osz64; try modrm(false); if i.sub != 0 { i.op = .ud }  // Group 1A: only /0 (SDM Vol. 2 Table A-6); XOP is AMD's
            case 0x90:
                if i.rep == 1 { i.op = .pause } else if rexB != 0 { i.op = .xchgEG; i.osz = osz; i.mem = false; i.reg = 0; i.rm = 8 }
                else { i.op = .nop }
            case 0x91...0x97: i.op = .xchgEG; i.osz = osz; i.mem = false; i.reg = 0; i.rm = (opc & 7) | (rexB << 3)
            case 0x98: i.op = .cbw; i.osz = osz
            case 0x99: i.op = .cwd; i.osz = osz
            case 0x9A:
                if mode == 2 { i.op = .ud } else {
                    i.op = .callFar; i.osz = osz; i.imm = osz == 1 ? try immN(1) & 0xFFFF : UInt64(try src.read32())
                    i.farSelector = UInt16(truncatingIfNeeded: try immN(1))
                }
            case 0x9B: i.op = .x87; i.x87Escape = Insn.fwait   // FWAIT: pending unmasked x87 exceptions, CR0.MP/TS
            case 0x9C: i.op = .pushf; i.osz = osz64
            case 0x9D: i.op = .popf; i.osz = osz64
            case 0x9E: i.op = .sahf
            case 0x9F: i.op = .lahf
            case 0xA0...0xA3:
                // MOV AL/rAX, moffs and back: an address-size-wide offset, no ModRM.
                i.op = opc < 0xA2 ? .movGE : .movEG
                i.osz = opc & 1 == 0 ? 0 : osz
                i.mem = true; i.reg = 0; i.base = 17; i.index = 17
                switch asz {
                case 1: i.disp = try immN(1) & 0xFFFF
                case 2: i.disp = UInt64(try src.read32())
                default: i.disp = UInt64(try src.read32()) | UInt64(try src.read32()) << 32
                }
            case 0xA4, 0xA5: i.op = .movs; i.osz = opc == 0xA4 ? 0 : osz
            case 0xA6, 0xA7: i.op = .cmps; i.osz = opc == 0xA6 ? 0 : osz
            case 0xA8: i.op = .testEI; i.osz = 0; i.mem = false; i.rm = 0; i.imm = try immN(0)
            case 0xA9: i.op = .testEI; i.osz = osz; i.mem = false; i.rm = 0; i.imm = try immZ(osz)
            case 0xAA, 0xAB: i.op = .stos; i.osz = opc == 0xAA ? 0 : osz
            case 0xAC, 0xAD: i.op = .lods; i.osz = opc == 0xAC ? 0 : osz
            case 0xAE, 0xAF: i.op = .scas; i.osz = opc == 0xAE ? 0 : osz
            case 0xB0...0xB7:
                i.op = .movEI; i.osz = 0; i.mem = false; i.rm = reg8((opc & 7) | (rexB << 3)); i.imm = try immN(0) & 0xFF
            case 0xB8...0xBF:
                i.op = .movEI; i.osz = osz; i.mem = false; i.rm = (opc & 7) | (rexB << 3)
                switch osz {
                case 1: i.imm = try immN(1) & 0xFFFF
                case 2: i.imm = UInt64(try src.read32())
                default: i.imm = UInt64(try src.read32()) | UInt64(try src.read32()) << 32
                }
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3:
                let byteOp = opc & 1 == 0
                i.op = .shiftE; i.osz = byteOp ? 0 : osz; try modrm(byteOp)
                if opc <= 0xC1 { i.countSource = Insn.countImm8; i.imm = try immN(0) & 0xFF } else { i.countSource = opc <= 0xD1 ? Insn.countOne : Insn.countCL }
            case 0xC2: i.op = .ret; i.osz = oszBranch; i.imm = try immN(1) & 0xFFFF
            case 0xC3: i.op = .ret; i.osz = oszBranch; i.imm = 0
            case 0xC4, 0xC5:
                // LES/LDS outside 64-bit mode with a memory operand; otherwise a VEX prefix.
                // No AVX in the modeled CPU (CPUID.1:ECX.AVX = 0): VEX encodings are #UD, with
                // the length of the VEX instruction (SDM Vol. 2A §2.3.5).
                if mode != 2, try peek() < 0xC0 { i.op = .loadFarPointer; i.osz = osz; try modrm(false); i.segmentRegister = opc == 0xC4 ? 0 : 3 }
                else { try vexForm(opc) }
            case 0xC6, 0xC7:
                let byteOp = opc == 0xC6
                i.op = .movEI; i.osz = byteOp ? 0 : osz; try modrm(byteOp)
                if i.sub != 0 {
                    // C6 F8 ib XABORT, C7 F8 cw/cd XBEGIN (RTM, not in the modeled CPU): #UD with
                    // their length; the rest of Groups 11 is undefined (SDM Vol. 2 Table A-6).
                    i.op = .ud
                    if i.sub == 7 && !i.mem && i.rm & 7 == 0 { _ = byteOp ? try immN(0) : try immZ(osz) }
                } else { i.imm = byteOp ? try immN(0) & 0xFF : try immZ(osz) }
            case 0xC8: i.op = .enter; i.osz = osz64; i.imm = try immN(1) & 0xFFFF; i.nestingLevel = UInt64(try src.next())
            case 0xC9: i.op = .leave; i.osz = osz64
            case 0xCA: i.op = .retFar; i.osz = osz; i.imm = try immN(1) & 0xFFFF
            case 0xCB: i.op = .retFar; i.osz = osz; i.imm = 0
            case 0xCC: i.op = .int3
            case 0xCD: i.op = .intN; i.imm = UInt64(try src.next())
            case 0xCE: i.op = mode == 2 ? .ud : .into
            case 0xCF: i.op = .iret; i.osz = osz
            case 0xD4, 0xD5:   // AAM/AAD imm8 (SDM Vol. 2A "AAM", "AAD"): #UD in 64-bit mode
                if mode == 2 { i.op = .ud } else { i.op = .bcd; i.bcdOp = opc == 0xD4 ? 4 : 5; i.imm = UInt64(try src.next()) }
            case 0xD6: i.op = mode == 2 ? .ud : .salc      // SALC: undocumented by Intel, executed by its CPUs
            case 0xD7: i.op = .xlat
            case 0xD8...0xDF:
                // x87: issue 3. Undefined are the blank cells of the escape maps (SDM Vol. 2
                // Appendix A.5.2, Tables A-7…A-22): memory forms D9 /1, DB /4, DB /6, DD /5, and
                // the register forms in `OpcodeTables.x87UndefinedRegForms`.
                try modrm(false)
                let esc = Int(opc & 7)
                i.x87Escape = esc; i.rm &= 7; i.reg &= 7
                if i.mem {
                    switch (esc, i.sub) {
                    case (1, 1), (3, 4), (3, 6), (5, 5): i.op = .ud
                    default: i.op = .x87
                    }
                }
                else { i.op = OpcodeTables.x87UndefinedRegForms[esc] >> (UInt64(i.sub) << 3 | UInt64(i.rm & 7)) & 1 != 0 ? .ud : .x87 }
            case 0xE0, 0xE1, 0xE2: i.op = .loop; i.loopKind = opc & 3; i.osz = oszBranch; i.imm = try immN(0)
            case 0xE3: i.op = .jcxz; i.osz = oszBranch; i.imm = try immN(0)
            case 0xE4, 0xE5: i.op = .inPort; i.osz = opc == 0xE4 ? 0 : (osz == 3 ? 2 : osz); i.imm = UInt64(try src.next()); i.portIsImmediate = true
            case 0xE6, 0xE7: i.op = .outPort; i.osz = opc == 0xE6 ? 0 : (osz == 3 ? 2 : osz); i.imm = UInt64(try src.next()); i.portIsImmediate = true
            case 0xEC, 0xED: i.op = .inPort; i.osz = opc == 0xEC ? 0 : (osz == 3 ? 2 : osz); i.portIsImmediate = false
            case 0xEE, 0xEF: i.op = .outPort; i.osz = opc == 0xEE ? 0 : (osz == 3 ? 2 : osz); i.portIsImmediate = false
            case 0xE8: i.op = .callRel; i.osz = oszBranch; i.imm = try immZ(oszBranch == 1 ? 1 : 2)
            case 0xE9: i.op = .jmpRel; i.osz = oszBranch; i.imm = try immZ(oszBranch == 1 ? 1 : 2)
            case 0xEA:
                if mode == 2 { i.op = .ud } else {
                    i.op = .jmpFar; i.osz = osz; i.imm = osz == 1 ? try immN(1) & 0xFFFF : UInt64(try src.read32())
                    i.farSelector = UInt16(truncatingIfNeeded: try immN(1))
                }
            case 0xEB: i.op = .jmpRel; i.osz = oszBranch; i.imm = try immN(0)
            case 0xF1: i.op = .int1
            case 0xF4: i.op = .hlt
            case 0xF5: i.op = .cmc
            case 0xF6, 0xF7:
                let byteOp = opc == 0xF6
                i.osz = byteOp ? 0 : osz; try modrm(byteOp)
                switch i.sub {
                case 0, 1: i.op = .testEI; i.imm = byteOp ? try immN(0) : try immZ(osz)
                case 2: i.op = .notE
                case 3: i.op = .negE
                case 4: i.op = .mulE
                case 5: i.op = .imul1E
                case 6: i.op = .divE
                default: i.op = .idivE
                }
            case 0xF8: i.op = .clc
            case 0xF9: i.op = .stc
            case 0xFA: i.op = .cli
            case 0xFB: i.op = .sti
            case 0xFC: i.op = .cld
            case 0xFD: i.op = .std
            case 0xFE:
                i.osz = 0; try modrm(true)
                i.op = i.sub == 0 ? .incE : i.sub == 1 ? .decE : .ud
            case 0xFF:
                try modrm(false)
                switch i.sub {
                case 0: i.op = .incE; i.osz = osz
                case 1: i.op = .decE; i.osz = osz
                case 2: i.op = .callE; i.osz = oszBranch
                case 3: i.op = i.mem ? .callFarE : .ud; i.osz = osz
                case 4: i.op = .jmpE; i.osz = oszBranch
                case 5: i.op = i.mem ? .jmpFarE : .ud; i.osz = osz
                case 6: i.op = .pushE; i.osz = osz64
                default: i.op = .ud
                }
            default:
                i.op = .ud
            }
        } else {
            opc = try src.next()
            switch opc {
            case 0x00:
                try modrm(false)
                switch i.sub {
                case 0: i.op = .sldt
                case 1: i.op = .str
                case 2: i.op = .lldt
                case 3: i.op = .ltr
                case 4: i.op = .verr
                case 5: i.op = .verw
                default: i.op = .ud
                }
                i.osz = i.mem ? 1 : osz
            case 0x01:
                let save = src.pos
                let m = try src.next()
                if m >= 0xC0 {
                    switch m {
                    case 0xF8: i.op = mode == 2 ? .swapgs : .ud
                    case 0xF9: i.op = .rdtscp
                    case 0xC8: i.op = mp == 0 ? .monitor : .ud        // MONITOR (66/F2/F3: #UD)
                    case 0xC9: i.op = mp == 0 ? .mwait : .ud          // MWAIT
                    // XGETBV/XSETBV (no 66/F2/F3: #UD); their CR4.OSXSAVE check is at execution.
                    case 0xD0: i.op = mp == 0 ? .xgetbv : .ud
                    case 0xD1: i.op = mp == 0 ? .xsetbv : .ud
                    // VMX (Table A-6, group 7 with mod = 11B): no 66/F2/F3 prefix (else #UD).
                    case 0xC1: i.op = mp == 0 ? .vmcall : .ud
                    case 0xC2: i.op = mp == 0 ? .vmlaunch : .ud
                    case 0xC3: i.op = mp == 0 ? .vmresume : .ud
                    case 0xC4: i.op = mp == 0 ? .vmxoff : .ud
                    case 0xD4: i.op = .ud                       // VMFUNC: "enable VM functions" is not advertised
                    case 0xCA, 0xCB: i.op = .ud                 // CLAC/STAC: SMAP not advertised
                    default:
                        src.pos = save
                        try modrm(false)
                        switch i.sub {
                        case 4: i.op = .smsw; i.osz = osz
                        case 6: i.op = .lmsw; i.osz = 1
                        default: i.op = .ud
                        }
                    }
                } else {
                    src.pos = save
                    try modrm(false)
                    switch i.sub {
                    case 0: i.op = .sgdt
                    case 1: i.op = .sidt
                    case 2: i.op = .lgdt
                    case 3: i.op = .lidt
                    case 4: i.op = .smsw; i.osz = 1
                    case 6: i.op = .lmsw; i.osz = 1
                    case 7: i.op = .invlpg
                    default: i.op = .ud
                    }
                    if i.op != .smsw && i.op != .lmsw { i.osz = osz }
                }
            case 0x02: i.op = .lar; i.osz = osz; try modrm(false)
            case 0x03: i.op = .lsl; i.osz = osz; try modrm(false)
            case 0x05: i.op = mode == 2 ? .syscall : .ud
            case 0x06: i.op = .clts
            case 0x07: i.op = mode == 2 ? .sysret : .ud; i.osz = osz
            case 0x08: i.op = .invd
            case 0x09: i.op = .wbinvd
            case 0x0B: i.op = .ud                                       // UD2
            case 0xB9, 0xFF: i.op = .ud; try modrm(false)               // UD1, UD0 Gv, Ev (SDM Vol. 2B "UD")
            case 0x34: i.op = .sysenter
            case 0x35: i.op = .sysexit; i.osz = rexW ? 3 : 2
            case 0xB2, 0xB4, 0xB5:                                      // LSS/LFS/LGS Gv, Mp
                i.op = .loadFarPointer; i.osz = osz; try modrm(false)
                i.segmentRegister = opc == 0xB2 ? 2 : (opc == 0xB4 ? 4 : 5)
                if !i.mem { i.op = .ud }
            case 0x0D: i.op = .nop; try modrm(false)                   // PREFETCHW
            case 0x18...0x1F: i.op = .nop; try modrm(false)            // hint NOPs, NOP Ev
            case 0x20, 0x21, 0x22, 0x23:
                // MOV to/from control/debug registers: always register operands — the mod field
                // is ignored, so no SIB or displacement follows (SDM Vol. 2B "MOV—Move to/from
                // Control Registers", "MOV—Move to/from Debug Registers").
                let m = try src.next()
                i.sub = (m >> 3) & 7
                i.reg = i.sub | (rexR << 3)
                i.rm = (m & 7) | (rexB << 3)
                i.mem = false
                i.osz = mode == 2 ? 3 : 2
                if opc == 0x20 || opc == 0x22 {
                    i.op = opc == 0x20 ? .movFromCR : .movToCR
                    if i.lock && mode != 2 { i.reg |= 8 }               // LOCK MOV CR0 = CR8 (AMD; not Intel)
                    if ![0, 2, 3, 4, 8].contains(i.reg) || i.lock { i.op = .ud }
                } else {
                    i.op = opc == 0x21 ? .movFromDR : .movToDR
                    if i.reg > 7 { i.op = .ud }
                }
            case 0x30: i.op = .wrmsr
            case 0x31: i.op = .rdtsc
            case 0x32: i.op = .rdmsr
            case 0x33: i.op = .rdpmc
            case 0x40...0x4F: i.op = .cmovcc; i.osz = osz; try modrm(false); i.conditionCode = opc & 0xF
            case 0x80...0x8F: i.op = .jcc; i.osz = oszBranch; i.conditionCode = opc & 0xF; i.imm = try immZ(oszBranch == 1 ? 1 : 2)
            case 0x90...0x9F: i.op = .setcc; i.osz = 0; try modrm(true); i.conditionCode = opc & 0xF
            case 0xA0, 0xA8: i.op = .pushSeg; i.segmentRegister = opc == 0xA0 ? 4 : 5; i.osz = osz64
            case 0xA1, 0xA9: i.op = .popSeg; i.segmentRegister = opc == 0xA1 ? 4 : 5; i.osz = osz64
            case 0xA2: i.op = .cpuid
            case 0xA3, 0xAB, 0xB3, 0xBB:
                i.op = .btE; i.osz = osz; try modrm(false)
                i.bitOp = 4 | (opc >> 3) & 3; i.bitOffsetIsImmediate = false    // A3 BT, AB BTS, B3 BTR, BB BTC
            case 0xBA:
                i.op = .btE; i.osz = osz; try modrm(false); i.imm = try immN(0) & 0xFF; i.bitOffsetIsImmediate = true
                if i.bitOp < 4 { i.op = .ud }
            case 0xA4: i.op = .shld; i.osz = osz; try modrm(false); i.imm = try immN(0) & 0xFF; i.countSource = Insn.countImm8
            case 0xA5: i.op = .shld; i.osz = osz; try modrm(false); i.countSource = Insn.countCL
            case 0xAC: i.op = .shrd; i.osz = osz; try modrm(false); i.imm = try immN(0) & 0xFF; i.countSource = Insn.countImm8
            case 0xAD: i.op = .shrd; i.osz = osz; try modrm(false); i.countSource = Insn.countCL
            case 0xAE:
                // Group 15 (SDM Vol. 2 Table A-6), by mandatory prefix.
                try modrm(false)
                if i.mem {
                    switch (mp, i.sub) {
                    case (0, 0...1): i.op = .fxsave             // FXSAVE FXRSTOR (sub 0/1)
                    case (0, 2...3): i.op = .sse; i.imm2 = 0x1AE    // LDMXCSR STMXCSR (ModRM.reg 2/3): `simdKey` 0x1AE, unit SSE
                    case (0, 4...6): i.op = .xsave; i.osz = osz  // XSAVE XRSTOR XSAVEOPT (REX.W: the 64-bit forms)
                    case (0, 7), (1, 7): i.op = .clflush        // CLFLUSH; 66: CLFLUSHOPT
                    default: i.op = .ud                         // 66 /6 CLWB, F3 /4 PTWRITE: not in the modeled CPU
                    }
                } else {
                    switch (mp, i.sub) {
                    case (0, 5...7): i.op = .nop                // LFENCE MFENCE SFENCE
                    case (2, 0...3): i.op = mode == 2 ? .fsgsbase : .ud; i.osz = osz   // RD/WR FS/GS BASE: 64-bit mode only
                    default: i.op = .ud                         // F3 /5 INCSSP, F3/66/F2 /6 UMONITOR/TPAUSE/UMWAIT: not modeled
                    }
                }
            case 0xAF: i.op = .imulGE; i.osz = osz; try modrm(false)
            case 0xB0, 0xB1: i.op = .cmpxchg; i.osz = opc == 0xB0 ? 0 : osz; try modrm(opc == 0xB0)
            case 0xB6, 0xB7: i.op = .movzx; i.osz = osz; try modrm(false, byteRMOnly: opc == 0xB6); i.sourceSize = opc == 0xB6 ? 0 : 1
            case 0xBE, 0xBF: i.op = .movsx; i.osz = osz; try modrm(false, byteRMOnly: opc == 0xBE); i.sourceSize = opc == 0xBE ? 0 : 1
            case 0xB8:
                i.op = i.rep == 1 ? .popcnt : .ud; i.osz = osz; try modrm(false)
            case 0xBC: i.op = i.rep == 1 ? .tzcnt : .bsf; i.osz = osz; try modrm(false)   // F3: TZCNT (BMI1)
            case 0xBD: i.op = i.rep == 1 ? .lzcnt : .bsr; i.osz = osz; try modrm(false)
            case 0xC0, 0xC1: i.op = .xadd; i.osz = opc == 0xC0 ? 0 : osz; try modrm(opc == 0xC0)
            case 0xC7:
                // Group 9 (SDM Vol. 2 Table A-6).
                try modrm(false)
                if i.sub == 1 && i.mem { i.op = .cmpxchg8b; i.osz = rexW ? 3 : 2 }
                else if (3...5).contains(i.sub) && i.mem && mp == 0 { i.op = .xsave; i.osz = osz; i.xsaveCompacted = true }   // XRSTORS XSAVEC XSAVES (REX.W: 64-bit forms)
                else if i.sub == 6 && !i.mem && mp <= 1 { i.op = .rdrand; i.osz = osz }   // NFx: F2/F3 #UD
                else if i.sub == 7 && !i.mem && i.rep == 1 { i.op = .rdpid }
                else if i.sub == 7 && !i.mem && mp <= 1 { i.op = .rdrand; i.osz = osz }           // RDSEED
                else if i.sub == 6 && i.mem { i.op = mp == 0 ? .vmptrld : mp == 1 ? .vmclear : mp == 2 ? .vmxon : .ud }
                else if i.sub == 7 && i.mem && mp == 0 { i.op = .vmptrst }
                else { i.op = .ud }
            case 0xC8...0xCF: i.op = .bswap; i.osz = osz; i.mem = false; i.rm = (opc & 7) | (rexB << 3)
            case 0x38:
                let o3 = try src.next()
                if (o3 == 0xF0 || o3 == 0xF1) && i.rep != 2 {
                    try modrm(false)
                    if i.rep == 0 {
                        // MOVBE Gv,Mv (F0) / Mv,Gv (F1); register forms are #UD.
                        i.osz = osz
                        i.op = !i.mem ? .ud : (o3 == 0xF0 ? .movbeGM : .movbeMG)
                    } else { i.op = .ud }                                  // F3 0F 38 F0/F1 is undefined (Table A-4)
                } else if o3 == 0x82 && mp == 1 {
                    // INVPCID: the type is r64 in 64-bit mode, r32 otherwise; the descriptor is m128.
                    i.op = .invpcid; try modrm(false); i.osz = mode == 2 ? 3 : 2
                    if !i.mem { i.op = .ud }
                } else if o3 == 0xF6 && (mp == 1 || mp == 2) {
                    i.op = .adx; i.sub = mp == 1 ? 0 : 1; try modrm(false); i.sub = mp == 1 ? 0 : 1
                    i.osz = rexW ? 3 : 2                                  // ADCX/ADOX Gy, Ey (66 is mandatory, not a size)
                } else {
                    try tableForm(SIMDTable.map0F38[Int(o3) &* 4 &+ mp], 0x200 | Int(o3))
                    if o3 == 0xF0 && !i.mem { i.rm = reg8(i.rm) }        // F2: CRC32 Gy, Eb (`SIMDOperand.gpr8`)
                }
            case 0x3A:
                let o3 = try src.next()
                try tableForm(SIMDTable.map0F3A[Int(o3) &* 4 &+ mp], 0x300 | Int(o3))
            case 0x78 where mp == 0, 0x79 where mp == 0:
                // VMREAD Ev, Gy / VMWRITE Gy, Ev: 64-bit operands in 64-bit mode, else 32-bit
                // (operand-size prefixes select other instructions: #UD here).
                i.op = opc == 0x78 ? .vmread : .vmwrite
                try modrm(false)
                i.osz = mode == 2 ? 3 : 2
            case 0x10...0x17, 0x28...0x2F, 0x50...0x7F, 0xC2...0xC6, 0xD0...0xFE:
                try tableForm(SIMDTable.map0F[Int(opc) &* 4 &+ mp], 0x100 | Int(opc))
                // Groups 12-14 (Table A-6): the member is ModRM.reg (`SIMDTable.groupMembers`).
                if (0x71...0x73).contains(opc) && i.op != .ud
                    && SIMDTable.groupMemberMask[Int(opc &- 0x71) &* 4 &+ mp] >> i.modrmReg & 1 == 0 { i.op = .ud }
            default:
                i.op = .ud
            }
        }
        // LOCK is allowed only on read-modify-write memory forms (SDM Vol. 2, LOCK: otherwise #UD).
        if i.lock {
            let lockable: Bool
            switch i.op {
            case .aluEG, .aluEI: lockable = i.mem && i.aluOp != 7
            case .incE, .decE, .notE, .negE, .xchgEG, .btE, .xadd, .cmpxchg, .cmpxchg8b:
                lockable = i.mem && !(i.op == .btE && i.bitOp == 4)
            default: lockable = false
            }
            // (Nothing lockable decodes to `.unimplemented`: those with LOCK are #UD too.)
            if !lockable && i.op != .ud { i.op = .ud }
        }
        i.len = UInt8(src.pos)
        if i.op.rawValue < Op.mov64RR.rawValue { specialize(&i) }
        return i
    }

    /// Rewrite common forms to fast ops (see `Op.mov64RR`). Semantics are unchanged; only the
    /// dispatch differs, so every fast op has a generic twin that the unit tests also cover.
    @inline(__always) func specialize(_ i: inout Insn) {
        if i.rep != 0 || i.lock { return }
        if i.op == .testEI && !i.mem { i.op = .testRI; i.imm &= CPU.mask(i.osz); return }
        let wide = i.osz == 3, dword = i.osz == 2
        guard wide || dword else { return }
        switch i.op {
        case .movGE:
            if !i.mem { i.op = wide ? .mov64RR : .mov32RR }
            else if i.asz == 3 || codeMode != 2 { i.op = wide ? .load64 : .load32 }
        case .movEG:
            if !i.mem { let d = i.rm; i.rm = i.reg; i.reg = d; i.op = wide ? .mov64RR : .mov32RR }
            else if i.asz == 3 || codeMode != 2 { i.op = wide ? .store64 : .store32 }
        case .movEI:
            if !i.mem { i.op = .movRI; i.imm &= CPU.mask(i.osz); i.reg = i.rm }
        case .aluEG, .aluGE:
            guard !i.mem, i.aluOp != 2, i.aluOp != 3 else { return }
            if i.op == .aluEG { let d = i.rm; i.rm = i.reg; i.reg = d }
            i.op = wide ? .aluRR64 : .aluRR32
        case .aluEI:
            guard !i.mem, i.aluOp != 2, i.aluOp != 3 else { return }
            i.reg = i.rm; i.imm &= CPU.mask(i.osz)
            i.op = wide ? .aluRI64 : .aluRI32
        case .testEG:
            if !i.mem { i.op = wide ? .testRR64 : .testRR32 }
        case .lea:
            if wide && i.asz == 3 { i.op = .lea64 }
        case .push: if wide { i.op = .push64 }
        case .pop: if wide { i.op = .pop64 }
        case .callRel: if wide { i.op = .call64 }
        case .ret: if wide && i.imm == 0 { i.op = .ret64 }
        case .incE: if !i.mem { i.op = wide ? .incR64 : .incR32; i.reg = i.rm }
        case .decE: if !i.mem { i.op = wide ? .decR64 : .decR32; i.reg = i.rm }
        default: break
        }
    }
}

extension ByteSource {
    @inline(__always) mutating func read32() throws(Fault) -> UInt32 {
        let a = UInt32(try next()), b = UInt32(try next()), c = UInt32(try next()), d = UInt32(try next())
        return a | b << 8 | c << 16 | d << 24
    }
}

extension Op {
    /// Instructions after which a block must end: control transfers, anything that can change
    /// the mode, privilege, paging, interrupt flag or I/O state, and instructions that stop.
    @inline(__always) var endsBlock: Bool {
        switch self {
        case .jmpRel, .callRel, .ret, .jmpE, .callE, .jmpFar, .jmpFarE, .callFar, .callFarE, .retFar,
             .iret, .int3, .intN, .into, .int1, .hlt, .cli, .sti, .popf, .movSE, .popSeg, .sysenter, .sysexit, .loadFarPointer,
             .lgdt, .lidt, .lldt, .ltr, .lmsw, .invlpg, .invpcid, .swapgs, .movToCR, .movToDR, .wrmsr, .syscall, .sysret,
             .clts, .invd, .wbinvd, .inPort, .outPort, .ins, .outs, .ud, .unimplemented, .popa, .cpuid, .rdmsr,
             .call64, .ret64, .rdtsc, .rdtscp,   // the TSC counts retired instructions, updated per block
             .vmxon, .vmxoff, .vmclear, .vmptrld, .vmptrst, .vmwrite, .vmlaunch, .vmresume, .vmcall, .xsetbv:
            return true
        default:
            return false
        }
    }
}

/// Decoder tables outside `SIMDTable`.
@usableFromInline enum OpcodeTables {
    /// x87 register forms (ModRM C0-FF) that are blank in the escape maps D8-DF (SDM Vol. 2
    /// Appendix A.5.2, Tables, …, A-22): bit (ModRM - C0) per escape, set = #UD.
    /// (The undocumented aliases FSTP1, FXCH4, FCOMP5, FFREEP, FXCH7, FSTP8/9 and the 8087/287
    /// FENI/FDISI/FSETPM, which Intel CPUs execute, stay defined.)
    static let x87UndefinedRegForms: [UInt64] = {
        func bits(_ ranges: [ClosedRange<Int>]) -> UInt64 {
            var m: UInt64 = 0
            for r in ranges { for b in r { m |= 1 << UInt64(b - 0xC0) } }
            return m
        }
        return [
            0,                                                               // D8
            bits([0xD1...0xD7, 0xE2...0xE3, 0xE6...0xE7, 0xEF...0xEF]),      // D9
            bits([0xE0...0xE8, 0xEA...0xFF]),                                // DA (E9 FUCOMPP)
            bits([0xE5...0xE7, 0xF8...0xFF]),                                // DB
            0,                                                               // DC
            bits([0xF0...0xFF]),                                             // DD
            bits([0xD8...0xD8, 0xDA...0xDF]),                                // DE (D9 FCOMPP)
            bits([0xE1...0xE7, 0xF8...0xFF]),                                // DF (E0 FNSTSW AX)
        ]
    }()
}
