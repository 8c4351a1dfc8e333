/// Instruction execution: one dense `switch` over `Op` (docs/DESIGN.md, "Hot-loop rules": dispatch on a small enum,
/// no closures, no existentials). Semantics follow each instruction's "Operation" and
/// "Flags Affected" sections in SDM Vol. 2.

extension CPU {
    // MARK: Register access

    /// Read a register operand of size code `size` (0 = 8 … 3 = 64 bits); byte registers 16…19
    /// are AH, CH, DH, BH.
    @inline(__always) func getReg(_ size: UInt8, _ r: UInt8) -> UInt64 {
        if size == 0 {
            return r >= 16 ? (regs[Int(r) - 16] >> 8) & 0xFF : regs[Int(r) & 15] & 0xFF
        }
        return regs[Int(r) & 15] & CPU.mask(size)
    }

    /// Write a register operand: 32-bit writes zero-extend to 64 bits; 8/16-bit writes merge
    /// (SDM Vol. 1 §3.4.1.1 "General-Purpose Registers in 64-Bit Mode").
    @inline(__always) func setReg(_ size: UInt8, _ r: UInt8, _ v: UInt64) {
        if size >= 2 {
            regs[Int(r) & 15] = v & CPU.mask(size)
        } else if size == 1 {
            let k = Int(r) & 15; regs[k] = (regs[k] & ~0xFFFF) | (v & 0xFFFF)
        } else if r >= 16 {
            let k = Int(r) - 16; regs[k] = (regs[k] & ~0xFF00) | ((v & 0xFF) << 8)
        } else {
            let k = Int(r) & 15; regs[k] = (regs[k] & ~0xFF) | (v & 0xFF)
        }
    }

    /// Effective address of the instruction's memory operand (SDM Vol. 1 §3.7.5 "Specifying an Offset").
    /// `base`/`index` index `regs` directly: slot 16 holds RIP, slot 17 is always zero, so the
    /// sum needs no branches.
    @inline(__always) func ea(_ i: UnsafePointer<Insn>) -> UInt64 {
        let r = regs
        let a = i.pointee.disp &+ r[Int(i.pointee.base)] &+ (r[Int(i.pointee.index)] << UInt64(i.pointee.scale))
        let asz = i.pointee.asz
        return asz == 3 ? a : a & CPU.mask(asz)
    }

    /// Read the r/m operand.
    @_transparent func readRM(_ i: UnsafePointer<Insn>, _ size: UInt8) throws(Fault) -> UInt64 {
        if i.pointee.mem { return try readMem(size, Int(i.pointee.seg), ea(i)) }
        return getReg(size, i.pointee.rm)
    }

    /// Write the r/m operand.
    @_transparent func writeRM(_ i: UnsafePointer<Insn>, _ size: UInt8, _ v: UInt64) throws(Fault) {
        if i.pointee.mem { try writeMem(size, Int(i.pointee.seg), ea(i), v) } else { setReg(size, i.pointee.rm, v) }
    }

    // MARK: Stack

    /// Stack width follows SS.B outside 64-bit mode (SDM Vol. 1 §6.2.3 "Address-Size Attributes for Stack Accesses").
    @inline(__always) var stackMask: UInt64 {
        codeMode == 2 ? ~0 : (segs[Seg.ss].attr & SegAttr.db != 0 ? 0xFFFF_FFFF : 0xFFFF)
    }

    @inline(__always) func push(_ size: UInt8, _ v: UInt64) throws(Fault) {
        let n = UInt64(1) << UInt64(size)
        let m = stackMask
        let sp = (regs[Reg.rsp] &- n) & m
        try writeMem(size, Seg.ss, sp, v)
        regs[Reg.rsp] = m == ~0 ? sp : (regs[Reg.rsp] & ~m) | sp
    }

    @inline(__always) func pop(_ size: UInt8) throws(Fault) -> UInt64 {
        let n = UInt64(1) << UInt64(size)
        let m = stackMask
        let sp = regs[Reg.rsp] & m
        let v = try readMem(size, Seg.ss, sp)
        regs[Reg.rsp] = m == ~0 ? sp &+ n : (regs[Reg.rsp] & ~m) | ((sp &+ n) & m)
        return v
    }

    /// Read the stack at RSP + `off` without moving RSP.
    func stackRead(_ size: UInt8, _ off: UInt64) throws(Fault) -> UInt64 {
        let m = stackMask
        return try readMem(size, Seg.ss, (regs[Reg.rsp] &+ off) & m)
    }

    func adjustSP(_ n: UInt64) {
        let m = stackMask
        regs[Reg.rsp] = m == ~0 ? regs[Reg.rsp] &+ n : (regs[Reg.rsp] & ~m) | ((regs[Reg.rsp] &+ n) & m)
    }

    /// Set RIP for a near branch, truncated to the operand size (SDM Vol. 2 "JMP": "IF OperandSize = 32
    /// THEN EIP ← tempEIP AND 0000FFFFH…").
    @inline(__always) func branch(_ target: UInt64, _ osz: UInt8) throws(Fault) {
        switch osz {
        case 3:
            if UInt64(bitPattern: (Int64(bitPattern: target) << 16) >> 16) != target { throw Fault.GP(0) }
            rip = target
        case 2:
            let t = target & 0xFFFF_FFFF
            if segChecked[Seg.cs] && t > UInt64(segs[Seg.cs].limit) { throw Fault.GP(0) }
            rip = t
        default:
            let t = target & 0xFFFF
            if segChecked[Seg.cs] && t > UInt64(segs[Seg.cs].limit) { throw Fault.GP(0) }
            rip = t
        }
    }

    // MARK: The dispatch

    /// Execute instructions `k..<n` of a decoded block, advancing `k` as each retires. A block may
    /// run through conditional branches (superblock); any instruction that leaves RIP anywhere
    /// but at its own end ends the execution of the block. On a fault `k` indexes the faulting
    /// instruction and `rip` points past it.
    /// Returns false when an instruction left the block's predicted path.
    @discardableResult
    func executeBlock(_ base: UnsafePointer<Insn>, _ n: Int, _ k: inout Int) throws(Fault) -> Bool {
        var j = k
        var stay = true
        do {
            while j < n {
                let i = base + j
                rip &+= UInt64(i.pointee.len)
                stay = try execute(i)
                j &+= 1
                if !stay { break }
                // A store into decoded code (this block's page or any other): the rest of this
                // block may be stale — end it here; the next lookup re-validates by generation.
                if codeWritten { codeWritten = false; stay = false; break }
            }
        } catch {
            k = j
            throw error
        }
        k = j
        return stay
    }

    /// Execute one decoded instruction. On entry `rip` already points past it. Returns false when
    /// the instruction moved RIP elsewhere (a taken branch, a restarted string instruction), so
    /// the rest of the block must not run. Inlined into `executeBlock`: in the cases that return
    /// a constant `true` the check disappears.
    @inline(__always) func execute(_ i: UnsafePointer<Insn>) throws(Fault) -> Bool {
        let osz = i.pointee.osz
        let r = regs
        switch i.pointee.op {
        // Fast forms (Decoder.specialize): fixed operand size, register operands known.
        case .mov64RR:
            r[Int(i.pointee.reg)] = r[Int(i.pointee.rm)]
        case .mov32RR:
            r[Int(i.pointee.reg)] = r[Int(i.pointee.rm)] & 0xFFFF_FFFF
        case .movRI:
            r[Int(i.pointee.reg)] = i.pointee.imm
        case .load64:
            r[Int(i.pointee.reg)] = try readMem(3, Int(i.pointee.seg), ea(i))
        case .load32:
            r[Int(i.pointee.reg)] = try readMem(2, Int(i.pointee.seg), ea(i))
        case .store64:
            try writeMem(3, Int(i.pointee.seg), ea(i), r[Int(i.pointee.reg)])
        case .store32:
            try writeMem(2, Int(i.pointee.seg), ea(i), r[Int(i.pointee.reg)] & 0xFFFF_FFFF)
        case .lea64:
            r[Int(i.pointee.reg)] = i.pointee.disp &+ r[Int(i.pointee.base)] &+ (r[Int(i.pointee.index)] << UInt64(i.pointee.scale))
        case .aluRR64:
            let d = Int(i.pointee.reg)
            let v = alu64(i.pointee.aluOp, r[d], r[Int(i.pointee.rm)])
            if i.pointee.aluOp != 7 { r[d] = v }
        case .aluRI64:
            let d = Int(i.pointee.reg)
            let v = alu64(i.pointee.aluOp, r[d], i.pointee.imm)
            if i.pointee.aluOp != 7 { r[d] = v }
        case .aluRR32:
            let d = Int(i.pointee.reg)
            let v = alu32(i.pointee.aluOp, r[d] & 0xFFFF_FFFF, r[Int(i.pointee.rm)] & 0xFFFF_FFFF)
            if i.pointee.aluOp != 7 { r[d] = v }
        case .aluRI32:
            let d = Int(i.pointee.reg)
            let v = alu32(i.pointee.aluOp, r[d] & 0xFFFF_FFFF, i.pointee.imm)
            if i.pointee.aluOp != 7 { r[d] = v }
        case .testRR64:
            setLazy(.logic, 3, r[Int(i.pointee.reg)] & r[Int(i.pointee.rm)], 0, 0)
        case .testRR32:
            setLazy(.logic, 2, r[Int(i.pointee.reg)] & r[Int(i.pointee.rm)] & 0xFFFF_FFFF, 0, 0)
        case .incR64, .decR64, .incR32, .decR32:
            let d = Int(i.pointee.reg)
            let op = i.pointee.op
            let size: UInt8 = (op == .incR64 || op == .decR64) ? 3 : 2
            let a = r[d] & CPU.mask(size)
            let inc = op == .incR64 || op == .incR32
            let v = (inc ? a &+ 1 : a &- 1) & CPU.mask(size)
            setIncDec(inc ? .inc : .dec, size, v, a)
            r[d] = v
        case .push64:
            try push(3, r[Int(i.pointee.rm)])
        case .pop64:
            let v = try pop(3)
            r[Int(i.pointee.rm)] = v
        case .call64:
            let target = rip &+ i.pointee.imm
            if UInt64(bitPattern: (Int64(bitPattern: target) << 16) >> 16) != target { throw Fault.GP(0) }
            try push(3, rip)
            rip = target
            return i.pointee.continuesAtTarget
        case .ret64:
            let rsp0 = r[Reg.rsp]
            let t = try pop(3)
            if UInt64(bitPattern: (Int64(bitPattern: t) << 16) >> 16) != t { r[Reg.rsp] = rsp0; throw Fault.GP(0) }
            rip = t
        case .movGE:
            let v = try readRM(i, osz)
            setReg(osz, i.pointee.reg, v)
        case .movEG:
            try writeRM(i, osz, getReg(osz, i.pointee.reg))
        case .movEI:
            try writeRM(i, osz, i.pointee.imm & CPU.mask(osz))
        case .lea:
            setReg(osz, i.pointee.reg, ea(i))
        case .aluEG:
            try aluToRM(i, getReg(osz, i.pointee.reg))
        case .aluGE:
            let r = alu(i.pointee.aluOp, osz, getReg(osz, i.pointee.reg), try readRM(i, osz))
            if i.pointee.aluOp != 7 { setReg(osz, i.pointee.reg, r) }
        case .aluEI:
            try aluToRM(i, i.pointee.imm & CPU.mask(osz))
        case .testEG:
            let r = try readRM(i, osz) & getReg(osz, i.pointee.reg)
            setLazy(.logic, osz, r, 0, 0)
        case .testEI:
            let r = try readRM(i, osz) & i.pointee.imm & CPU.mask(osz)
            setLazy(.logic, osz, r, 0, 0)
        case .jcc:
            // A block may have been decoded through this branch (`continuesAtTarget`: predicted
            // taken, the block continues at the target; else at the fall-through).
            if condition(i.pointee.conditionCode) { try branch(rip &+ i.pointee.imm, osz); return i.pointee.continuesAtTarget }
            return !i.pointee.continuesAtTarget
        case .jmpRel:
            try branch(rip &+ i.pointee.imm, osz)
            return i.pointee.continuesAtTarget
        case .callRel:
            let target = rip &+ i.pointee.imm
            let rsp0 = regs[Reg.rsp]
            try push(osz, rip)
            do { try branch(target, osz) } catch { regs[Reg.rsp] = rsp0; throw error }
            return i.pointee.continuesAtTarget
        case .ret:
            let rsp0 = regs[Reg.rsp]
            let t = try pop(osz)
            do { try branch(t, osz) } catch { regs[Reg.rsp] = rsp0; throw error }
            if i.pointee.imm != 0 { adjustSP(i.pointee.imm) }
        case .push:
            try push(osz, getReg(osz, i.pointee.rm))
        case .pop:
            let v = try pop(osz)
            setReg(osz, i.pointee.rm, v)
        case .pushI:
            try push(osz, i.pointee.imm)
        case .incE, .decE:
            let inc = i.pointee.op == .incE
            if i.pointee.mem {
                let off = ea(i), seg = Int(i.pointee.seg)
                try probeWrite(osz, seg, off)
                let a = try readMem(osz, seg, off)
                let r = (inc ? a &+ 1 : a &- 1) & CPU.mask(osz)
                setIncDec(inc ? .inc : .dec, osz, r, a)
                try writeMem(osz, seg, off, r)
            } else {
                let a = getReg(osz, i.pointee.rm)
                let r = (inc ? a &+ 1 : a &- 1) & CPU.mask(osz)
                setIncDec(inc ? .inc : .dec, osz, r, a)
                setReg(osz, i.pointee.rm, r)
            }
        case .movzx:
            let v = try readRM(i, i.pointee.sourceSize)
            setReg(osz, i.pointee.reg, v)
        case .movsx:
            let s = i.pointee.sourceSize
            let v = try readRM(i, s)
            setReg(osz, i.pointee.reg, signExtend(v, s) & CPU.mask(osz))
        case .movsxd:
            let v = try readRM(i, 2)
            setReg(osz, i.pointee.reg, osz == 3 ? signExtend(v, 2) : v)
        case .cmovcc:
            let v = try readRM(i, osz)
            if condition(i.pointee.conditionCode) { setReg(osz, i.pointee.reg, v) }
            else if osz == 2 { setReg(2, i.pointee.reg, getReg(2, i.pointee.reg)) }   // 32-bit CMOV zero-extends even when false
        case .setcc:
            try writeRM(i, 0, condition(i.pointee.conditionCode) ? 1 : 0)
        case .shiftE:
            let sub = i.pointee.shiftOp
            if sub >= 4 && sub != 6 && !i.pointee.mem && i.pointee.countSource == Insn.countImm8 {
                // SHL/SHR/SAR r, imm8: the common compiler forms, inline.
                let count = i.pointee.imm & (osz == 3 ? 0x3F : 0x1F)
                // Count 0: no change, but a 32-bit destination is still written (zero-extended).
                if count == 0 { if osz == 2 { r[Int(i.pointee.rm)] &= 0xFFFF_FFFF }; return true }
                let a = getReg(osz, i.pointee.rm)
                let m = CPU.mask(osz), sb = CPU.signBit(osz), bits = UInt64(8) << UInt64(osz)
                var r: UInt64, c: Bool, o: Bool
                if sub == 4 {
                    r = (a << count) & m; c = count <= bits && (a >> (bits &- count)) & 1 != 0; o = (r & sb != 0) != c
                } else if sub == 5 {
                    r = a >> count; c = (a >> (count - 1)) & 1 != 0; o = a & sb != 0
                } else {
                    let sv = Int64(bitPattern: signExtend(a, osz))
                    r = UInt64(bitPattern: sv >> Int64(count)) & m; c = (sv >> Int64(count - 1)) & 1 != 0; o = false
                }
                setArith(szp(osz, r) | (c ? RFLAGS.cf : 0) | (o ? RFLAGS.of : 0))
                setReg(osz, i.pointee.rm, r)
                return true
            }
            try shiftInsn(i)
        case .nop:
            break
        case .pause:
            // PAUSE exiting (SDM Vol. 3C §25.1.3; "PAUSE-loop exiting" is not advertised).
            if vmx.nonRoot && vmx.proc & Proc.pauseExiting != 0 { try vmExitForInstruction(i, .pause) }
        case .testRI:
            setLazy(.logic, osz, getReg(osz, i.pointee.rm) & i.pointee.imm, 0, 0)
        default:
            let before = rip
            try executeRest(i)
            return rip == before
        }
        return true
    }

    /// `r/m ← r/m OP b` for the eight ALU operations (CMP only reads). A memory destination is
    /// checked for writability before it is read, so a fault leaves no side effect.
    @inline(__always) func aluToRM(_ i: UnsafePointer<Insn>, _ b: UInt64) throws(Fault) {
        let osz = i.pointee.osz, op = i.pointee.aluOp
        if i.pointee.mem {
            let off = ea(i), seg = Int(i.pointee.seg)
            if op != 7 { try probeWrite(osz, seg, off) }
            let r = alu(op, osz, try readMem(osz, seg, off), b)
            if op != 7 { try writeMem(osz, seg, off, r) }
        } else {
            let r = alu(op, osz, getReg(osz, i.pointee.rm), b)
            if op != 7 { setReg(osz, i.pointee.rm, r) }
        }
    }

    @inline(__always) func signExtend(_ v: UInt64, _ size: UInt8) -> UInt64 {
        switch size {
        case 0: return UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: v)))
        case 1: return UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: v)))
        case 2: return UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v)))
        default: return v
        }
    }

    /// The eight classic ALU operations; records flags, returns the (masked) result.
    @inline(__always) func alu(_ op: UInt8, _ size: UInt8, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let m = CPU.mask(size)
        switch op {
        case 0: let r = (a &+ b) & m; setLazy(.add, size, r, a, b); return r
        case 1: let r = a | b; setLazy(.logic, size, r, 0, 0); return r
        case 4: let r = a & b; setLazy(.logic, size, r, 0, 0); return r
        case 5, 7: let r = (a &- b) & m; setLazy(.sub, size, r, a, b); return r
        case 6: let r = a ^ b; setLazy(.logic, size, r, 0, 0); return r
        case 2: return adc(size, a, b)
        default: return sbb(size, a, b)
        }
    }

    /// 64-bit ADD/OR/AND/SUB/XOR/CMP (ADC/SBB never reach the fast forms).
    @inline(__always) func alu64(_ op: UInt8, _ a: UInt64, _ b: UInt64) -> UInt64 {
        switch op {
        case 0: let v = a &+ b; setLazy(.add, 3, v, a, b); return v
        case 1: let v = a | b; setLazy(.logic, 3, v, 0, 0); return v
        case 4: let v = a & b; setLazy(.logic, 3, v, 0, 0); return v
        case 6: let v = a ^ b; setLazy(.logic, 3, v, 0, 0); return v
        default: let v = a &- b; setLazy(.sub, 3, v, a, b); return v
        }
    }

    /// 32-bit form of `alu64`; operands already zero-extended, result zero-extended.
    @inline(__always) func alu32(_ op: UInt8, _ a: UInt64, _ b: UInt64) -> UInt64 {
        switch op {
        case 0: let v = (a &+ b) & 0xFFFF_FFFF; setLazy(.add, 2, v, a, b); return v
        case 1: let v = a | b; setLazy(.logic, 2, v, 0, 0); return v
        case 4: let v = a & b; setLazy(.logic, 2, v, 0, 0); return v
        case 6: let v = a ^ b; setLazy(.logic, 2, v, 0, 0); return v
        default: let v = (a &- b) & 0xFFFF_FFFF; setLazy(.sub, 2, v, a, b); return v
        }
    }

    @inline(never) func adc(_ size: UInt8, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let m = CPU.mask(size), sb = CPU.signBit(size)
        let c: UInt64 = cf ? 1 : 0
        let r = (a &+ b &+ c) & m
        var f: UInt64 = 0
        // Carry out of the top bit: compare in a wider domain for 64-bit operands.
        let carry: Bool
        if size == 3 { let (s1, o1) = a.addingReportingOverflow(b); let (_, o2) = s1.addingReportingOverflow(c); carry = o1 || o2 }
        else { carry = (a & m) + (b & m) + c > m }
        if carry { f |= RFLAGS.cf }
        if (a ^ r) & (b ^ r) & sb != 0 { f |= RFLAGS.of }
        f |= szp(size, r) | ((a ^ b ^ r) & 0x10)
        setArith(f)
        return r
    }

    @inline(never) func sbb(_ size: UInt8, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let m = CPU.mask(size), sb = CPU.signBit(size)
        let c: UInt64 = cf ? 1 : 0
        let r = (a &- b &- c) & m
        var f: UInt64 = 0
        let borrow: Bool
        if size == 3 { let (s1, o1) = a.subtractingReportingOverflow(b); let (_, o2) = s1.subtractingReportingOverflow(c); borrow = o1 || o2 }
        else { borrow = (a & m) < (b & m) + c }
        if borrow { f |= RFLAGS.cf }
        if (a ^ b) & (a ^ r) & sb != 0 { f |= RFLAGS.of }
        f |= szp(size, r) | ((a ^ b ^ r) & 0x10)
        setArith(f)
        return r
    }

    /// SF, ZF and PF of a result.
    @inline(__always) func szp(_ size: UInt8, _ r: UInt64) -> UInt64 {
        var f: UInt64 = 0
        let m = CPU.mask(size)
        if r & m == 0 { f |= RFLAGS.zf }
        if r & CPU.signBit(size) != 0 { f |= RFLAGS.sf }
        if UInt8(truncatingIfNeeded: r).nonzeroBitCount & 1 == 0 { f |= RFLAGS.pf }
        return f
    }

    /// Shifts and rotates (SDM Vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR"). A masked count of
    /// zero changes neither the operand nor the flags. OF is defined for counts of 1; for larger
    /// counts Intel silicon computes it the same way, which we follow.
    @inline(never) func shiftInsn(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let bits = UInt64(8) << UInt64(osz)
        let raw: UInt64
        switch i.pointee.countSource {
        case Insn.countOne: raw = 1
        case Insn.countCL: raw = regs[Reg.rcx] & 0xFF
        default: raw = i.pointee.imm
        }
        let count = raw & (osz == 3 ? 0x3F : 0x1F)
        if i.pointee.mem { try probeWrite(osz, Int(i.pointee.seg), ea(i)) }
        let a = try readRM(i, osz)
        // Count 0: operand and flags unchanged, but a 32-bit register destination is still
        // written, so bits 63:32 clear (SDM Vol. 1 §3.4.1.1).
        if count == 0 { if osz == 2 && !i.pointee.mem { setReg(2, i.pointee.rm, a) }; return }
        let m = CPU.mask(osz), sb = CPU.signBit(osz)
        var r: UInt64 = 0
        var f = i.pointee.shiftOp < 4 ? arithFlags() : 0     // rotates keep SF/ZF/AF/PF
        var c = false, o = false
        switch i.pointee.shiftOp {
        case 0: // ROL
            let n = count % bits
            r = n == 0 ? a : ((a << n) | (a >> (bits - n))) & m
            c = r & 1 != 0
            o = (r & sb != 0) != c
            f = (f & ~(RFLAGS.cf | RFLAGS.of)) | (c ? RFLAGS.cf : 0) | (o ? RFLAGS.of : 0)
            setArith(f); try writeRM(i, osz, r); return
        case 1: // ROR
            let n = count % bits
            r = n == 0 ? a : ((a >> n) | (a << (bits - n))) & m
            c = r & sb != 0
            o = (r & sb != 0) != (r & (sb >> 1) != 0)
            f = (f & ~(RFLAGS.cf | RFLAGS.of)) | (c ? RFLAGS.cf : 0) | (o ? RFLAGS.of : 0)
            setArith(f); try writeRM(i, osz, r); return
        case 2, 3: // RCL, RCR through CF: a (bits+1)-bit rotation
            let n = count % (bits + 1)
            var v = a, carry = f & 1 != 0
            for _ in 0..<n {
                if i.pointee.shiftOp == 2 {
                    let out = v & sb != 0
                    v = ((v << 1) | (carry ? 1 : 0)) & m
                    carry = out
                } else {
                    let out = v & 1 != 0
                    v = (v >> 1) | (carry ? sb : 0)
                    carry = out
                }
            }
            r = v
            if i.pointee.shiftOp == 2 { o = (r & sb != 0) != carry } else { o = (r & sb != 0) != (r & (sb >> 1) != 0) }
            f = (f & ~(RFLAGS.cf | RFLAGS.of)) | (carry ? RFLAGS.cf : 0) | (o ? RFLAGS.of : 0)
            setArith(f); try writeRM(i, osz, r); return
        case 4, 6: // SHL/SAL
            r = count >= 64 ? 0 : (a << count) & m
            c = count <= bits ? (a >> (bits - count)) & 1 != 0 : false
            o = (r & sb != 0) != c
        case 5: // SHR
            r = count >= 64 ? 0 : (a >> count)
            c = (a >> (count - 1)) & 1 != 0
            o = a & sb != 0
        default: // SAR
            let s = Int64(bitPattern: signExtend(a, osz))
            r = UInt64(bitPattern: s >> Int64(min(count, 63))) & m
            c = (s >> Int64(min(count - 1, 63))) & 1 != 0
            o = false
        }
        // AF is undefined for shifts; Intel silicon leaves it clear.
        f = szp(osz, r) | (c ? RFLAGS.cf : 0) | (o ? RFLAGS.of : 0)
        setArith(f)
        try writeRM(i, osz, r)
    }
}
