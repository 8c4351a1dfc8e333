/// The less frequent instructions: multiply/divide, bit operations, exchange, string, stack
/// frames, flags, far transfers, I/O, interrupts. Hot ones are in `CPU+Execute`.

extension CPU {
    @inline(never) func executeRest(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let m = CPU.mask(osz)
        switch i.pointee.op {
        case .unimplemented:
            throw unimplementedStop("(not yet implemented)")
        case .ud:
            throw Fault.UD()
        case .x87, .fxsave:
            try executeX87(i)
        case .sse:
            try executeSSE(i)
        case .bmi, .adx, .rdrand, .fsgsbase:
            try executeBitManipulation(i)
        case .invpcid:
            try executeSystem(i)
        case .xgetbv, .xsetbv, .xsave:
            try executeXSave(i)
        case .bcd, .salc, .arpl, .bound:
            try executeLegacy(i)
        case .notE:
            if i.pointee.mem { try probeWrite(osz, Int(i.pointee.seg), ea(i)) }
            try writeRM(i, osz, ~(try readRM(i, osz)) & m)
        case .negE:
            if i.pointee.mem { try probeWrite(osz, Int(i.pointee.seg), ea(i)) }
            let a = try readRM(i, osz)
            let r = (0 &- a) & m
            setLazy(.sub, osz, r, 0, a)
            try writeRM(i, osz, r)
        case .mulE, .imul1E:
            try mulDiv1(i)
        case .divE, .idivE:
            try mulDiv1(i)
        case .imulGE, .imulGEI:
            let a = signExtend(try readRM(i, osz), osz)
            let b = i.pointee.op == .imulGE ? signExtend(getReg(osz, i.pointee.reg), osz) : signExtend(i.pointee.imm & m, osz)
            let (hi, lo) = Int64(bitPattern: a).multipliedFullWidth(by: Int64(bitPattern: b))
            let r = UInt64(lo) & m
            let overflow: Bool
            if osz == 3 { overflow = hi != (Int64(bitPattern: lo) >> 63) }
            else { overflow = signExtend(r, osz) != UInt64(lo) }
            setArith(szp(osz, r) | (overflow ? RFLAGS.cf | RFLAGS.of : 0))
            setReg(osz, i.pointee.reg, r)
        case .xchgEG:
            if i.pointee.mem { try probeWrite(osz, Int(i.pointee.seg), ea(i)) }
            let a = try readRM(i, osz)
            let b = getReg(osz, i.pointee.reg)
            try writeRM(i, osz, b)
            setReg(osz, i.pointee.reg, a)
        case .xadd:
            // "TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP". The memory destination is written
            // before the register, whose old value may be the base or index of that address (found
            // by KVMDiffTests: lock xadd [rsi-0x3C], esi); a register destination is written last,
            // so XADD r, r leaves the sum.
            if i.pointee.mem { try probeWrite(osz, Int(i.pointee.seg), ea(i)) }
            let a = try readRM(i, osz)
            let b = getReg(osz, i.pointee.reg)
            let r = alu(0, osz, a, b)
            if i.pointee.mem {
                try writeRM(i, osz, r)
                setReg(osz, i.pointee.reg, a)
            } else {
                setReg(osz, i.pointee.reg, a)
                try writeRM(i, osz, r)
            }
        case .cmpxchg:
            if i.pointee.mem { try probeWrite(osz, Int(i.pointee.seg), ea(i)) }
            let dest = try readRM(i, osz)
            let acc = getReg(osz, 0)
            _ = alu(7, osz, acc, dest)
            if acc == dest { try writeRM(i, osz, getReg(osz, i.pointee.reg)) }
            else {
                if i.pointee.mem { try writeRM(i, osz, dest) }   // the destination is always written
                setReg(osz, 0, dest)
            }
        case .cmpxchg8b:
            // CMPXCHG8B m64 / CMPXCHG16B m128 (#GP(0) if the 16-byte operand is misaligned).
            let off = ea(i), seg = Int(i.pointee.seg)
            if osz == 3 {
                // Alignment is of the linear address (segment base included; SDM Vol. 2A
                // "CMPXCHG8B/CMPXCHG16B": "#GP(0) If the memory operand for CMPXCHG16B is not
                // aligned on a 16-byte boundary") — an FS/GS base may misalign it.
                if (segBase[seg] &+ off) & 0xF != 0 { throw Fault.GP(0) }
                try probeWrite(3, seg, off); try probeWrite(3, seg, off &+ 8)
                let lo = try readMem(3, seg, off), hi = try readMem(3, seg, off &+ 8)
                if lo == regs[Reg.rax] && hi == regs[Reg.rdx] {
                    try writeMem(3, seg, off, regs[Reg.rbx]); try writeMem(3, seg, off &+ 8, regs[Reg.rcx])
                    setArith((arithFlags() & ~RFLAGS.zf) | RFLAGS.zf)
                } else {
                    try writeMem(3, seg, off, lo); try writeMem(3, seg, off &+ 8, hi)
                    regs[Reg.rax] = lo; regs[Reg.rdx] = hi
                    setArith(arithFlags() & ~RFLAGS.zf)
                }
            } else {
                try probeWrite(3, seg, off)
                let v = try readMem(3, seg, off)
                let cmp = (regs[Reg.rdx] & 0xFFFF_FFFF) << 32 | (regs[Reg.rax] & 0xFFFF_FFFF)
                if v == cmp {
                    try writeMem(3, seg, off, (regs[Reg.rcx] & 0xFFFF_FFFF) << 32 | (regs[Reg.rbx] & 0xFFFF_FFFF))
                    setArith(arithFlags() | RFLAGS.zf)
                } else {
                    try writeMem(3, seg, off, v)
                    regs[Reg.rax] = v & 0xFFFF_FFFF; regs[Reg.rdx] = v >> 32
                    setArith(arithFlags() & ~RFLAGS.zf)
                }
            }
        case .btE:
            try bitTest(i)
        case .shld, .shrd:
            try doubleShift(i)
        case .bsf, .bsr:
            let v = try readRM(i, osz)
            if v == 0 {
                // Destination unchanged (Intel documents it as undefined; silicon leaves it), ZF=1.
                setArith((arithFlags() & ~RFLAGS.arith) | RFLAGS.zf)
            } else {
                let r = i.pointee.op == .bsf ? UInt64(v.trailingZeroBitCount) : UInt64(63 - v.leadingZeroBitCount)
                setReg(osz, i.pointee.reg, r)
                setArith(0)
            }
        case .tzcnt, .lzcnt, .popcnt:
            let v = try readRM(i, osz)
            let bits = UInt64(8) << UInt64(osz)
            let r: UInt64
            switch i.pointee.op {
            case .tzcnt: r = v == 0 ? bits : UInt64(v.trailingZeroBitCount)
            case .lzcnt: r = v == 0 ? bits : UInt64(v.leadingZeroBitCount) - (64 - bits)
            default: r = UInt64(v.nonzeroBitCount)
            }
            setReg(osz, i.pointee.reg, r)
            if i.pointee.op == .popcnt { setArith(v == 0 ? RFLAGS.zf : 0) }
            else { setArith((r == 0 ? RFLAGS.zf : 0) | ((v == 0) ? RFLAGS.cf : 0)) }
        case .bswap:
            let r = i.pointee.rm
            if osz == 3 { regs[Int(r)] = regs[Int(r)].byteSwapped }
            else if osz == 2 { regs[Int(r)] = UInt64(UInt32(truncatingIfNeeded: regs[Int(r)]).byteSwapped) }
            else { setReg(1, r, 0) }   // 16-bit BSWAP: undefined; silicon gives 0
        case .movbeGM:
            let v = try readRM(i, osz)
            setReg(osz, i.pointee.reg, byteSwap(v, osz))
        case .movbeMG:
            try writeRM(i, osz, byteSwap(getReg(osz, i.pointee.reg), osz))
        case .cbw:
            // CBW/CWDE/CDQE: sign-extend the lower half of rAX.
            setReg(osz, 0, signExtend(getReg(osz - 1, 0), osz - 1) & m)
        case .cwd:
            let s = getReg(osz, 0) & CPU.signBit(osz) != 0
            setReg(osz, Reg.rdx.u8, s ? m : 0)
        case .lahf:
            setReg(0, 16, flags() & 0xD5 | 2)
        case .sahf:
            let ah = (regs[Reg.rax] >> 8) & 0xD5
            setArith((arithFlags() & RFLAGS.of) | ah)
        case .cmc: setArith(arithFlags() ^ RFLAGS.cf)
        case .clc: setArith(arithFlags() & ~RFLAGS.cf)
        case .stc: setArith(arithFlags() | RFLAGS.cf)
        case .cld: flagsRest &= ~RFLAGS.df
        case .std: flagsRest |= RFLAGS.df
        case .cli, .sti:
            // IOPL-sensitive (SDM Vol. 2 "CLI"/"STI"): #GP(0) when CPL > IOPL (no VME/PVI modeled).
            if cr0 & CR0.pe != 0 && cpl > UInt8((flagsRest >> 12) & 3) { throw Fault.GP(0) }
            if i.pointee.op == .cli { flagsRest &= ~RFLAGS.if }
            else { if flagsRest & RFLAGS.if == 0 { vmx.stiShadowRip = rip }; flagsRest |= RFLAGS.if }
        case .pushf:
            // Virtual-8086 mode with IOPL < 3 (no CR4.VME): #GP(0) (Vol. 2B "PUSHF" Operation;
            // §20.2.7 "Sensitive Instructions").
            if flagsRest & RFLAGS.vm != 0 && flagsRest & RFLAGS.iopl != RFLAGS.iopl { throw Fault.GP(0) }
            try push(osz, flags() & ~(RFLAGS.vm | RFLAGS.rf) & m)
        case .popf:
            try popf(osz)
        case .pushE:
            let v = try readRM(i, osz)
            try push(osz, v)
        case .popE:
            // POP r/m: RSP is incremented before the effective address is computed.
            let rsp0 = regs[Reg.rsp]
            let v = try pop(osz)
            do { try writeRM(i, osz, v) } catch { regs[Reg.rsp] = rsp0; throw error }
        case .pushSeg:
            let sel = UInt64(segs[Int(i.pointee.segmentRegister)].selector)
            try push(osz, sel)
        case .popSeg:
            let rsp0 = regs[Reg.rsp]
            let v = try pop(osz)
            do { try loadSegment(Int(i.pointee.segmentRegister), UInt16(truncatingIfNeeded: v)) } catch { regs[Reg.rsp] = rsp0; throw error }
            if i.pointee.segmentRegister == UInt8(Seg.ss) { vmx.ssShadowRip = rip }   // blocking by MOV SS (SDM Vol. 3C §24.4.2)
        case .pusha:
            let sp = getReg(osz, UInt8(Reg.rsp))
            for r in 0..<8 { try push(osz, r == Reg.rsp ? sp : getReg(osz, UInt8(r))) }
        case .popa:
            for r in (0..<8).reversed() {
                let v = try pop(osz)
                if r != Reg.rsp { setReg(osz, UInt8(r), v) }
            }
        case .movES:
            // MOV r/m, Sreg: a memory destination is always 16 bits; a register one is zero-extended.
            let sel = UInt64(segs[Int(i.pointee.segmentRegister)].selector)
            if i.pointee.mem { try writeRM(i, 1, sel) } else { setReg(osz == 1 ? 1 : (osz == 3 ? 3 : 2), i.pointee.rm, sel) }
        case .loadFarPointer:
            // LDS/LES/LSS/LFS/LGS (SDM Vol. 2A "LDS/LES/LFS/LGS/LSS—Load Far Pointer"): the
            // offset (16/32/64 bits) then the selector from memory; the segment is loaded (with
            // its checks) before the register is written.
            let off = ea(i), seg = Int(i.pointee.seg)
            let n = UInt64(1) << UInt64(osz)
            let offset = try readMem(osz, seg, off)
            let sel = UInt16(truncatingIfNeeded: try readMem(1, seg, off &+ n))
            try loadSegment(Int(i.pointee.segmentRegister), sel)
            setReg(osz, i.pointee.reg, offset)
        case .movSE:
            let v = try readRM(i, 1)
            try loadSegment(Int(i.pointee.segmentRegister), UInt16(truncatingIfNeeded: v))
            if i.pointee.segmentRegister == UInt8(Seg.ss) { vmx.ssShadowRip = rip }   // blocking by MOV SS (SDM Vol. 3C §24.4.2)
        case .enter:
            try enter(i)
        case .leave:
            let m2 = stackMask
            let bp = regs[Reg.rbp] & m2
            let v = try readMem(osz, Seg.ss, bp)
            regs[Reg.rsp] = m2 == ~0 ? bp &+ (1 << UInt64(osz)) : (regs[Reg.rsp] & ~m2) | ((bp &+ (1 << UInt64(osz))) & m2)
            setReg(osz, UInt8(Reg.rbp), v)
        case .xlat:
            let a = (regs[Reg.rbx] &+ (regs[Reg.rax] & 0xFF)) & CPU.mask(i.pointee.asz)
            setReg(0, 0, try readMem(0, Int(i.pointee.seg), a))
        case .jmpE:
            try branch(try readRM(i, osz), osz)
        case .callE:
            let t = try readRM(i, osz)
            let rsp0 = regs[Reg.rsp]
            try push(osz, rip)
            do { try branch(t, osz) } catch { regs[Reg.rsp] = rsp0; throw error }
        case .loop:
            let am = CPU.mask(i.pointee.asz)
            let c = (regs[Reg.rcx] &- 1) & am
            regs[Reg.rcx] = i.pointee.asz == 3 ? c : (i.pointee.asz == 2 ? c : (regs[Reg.rcx] & ~0xFFFF) | c)
            let take: Bool
            switch i.pointee.loopKind {
            case 0: take = c != 0 && !zf   // LOOPNE
            case 1: take = c != 0 && zf    // LOOPE
            default: take = c != 0
            }
            if take { try branch(rip &+ i.pointee.imm, osz) }
        case .jcxz:
            if regs[Reg.rcx] & CPU.mask(i.pointee.asz) == 0 { try branch(rip &+ i.pointee.imm, osz) }
        case .jmpFar:
            try farTransfer(sel: i.pointee.farSelector, offset: i.pointee.imm, call: false, osz: osz, start: rip &- UInt64(i.pointee.len))
        case .callFar:
            try farTransfer(sel: i.pointee.farSelector, offset: i.pointee.imm, call: true, osz: osz, start: rip &- UInt64(i.pointee.len))
        case .jmpFarE, .callFarE:
            let off = ea(i), seg = Int(i.pointee.seg)
            let n: UInt64 = UInt64(1) << UInt64(osz)
            let target = try readMem(osz, seg, off)
            let sel = UInt16(truncatingIfNeeded: try readMem(1, seg, off &+ n))
            try farTransfer(sel: sel, offset: target, call: i.pointee.op == .callFarE, osz: osz, start: rip &- UInt64(i.pointee.len))
        case .retFar:
            try farReturn(osz: osz, popBytes: i.pointee.imm)
        case .iret:
            nmiBlocked = false      // IRET ends NMI blocking (SDM Vol. 3A §6.7.1 "Handling Multiple NMIs")
            try iret(osz: osz, start: rip &- UInt64(i.pointee.len))
        case .int3:
            throw Fault(kind: .software, vector: 3, trap: true)
        case .intN:
            // "IF (VM = 1 and IOPL < 3 AND INT n) THEN #GP(0)" (Vol. 2A "INT n" Operation; §20.2.7
            // "Sensitive Instructions"). INT3, INTO and INT1 are not IOPL-sensitive: they go to
            // the IDT, where a software interrupt's gate DPL is checked against CPL 3.
            if flagsRest & RFLAGS.vm != 0 && flagsRest & RFLAGS.iopl != RFLAGS.iopl { throw Fault.GP(0) }
            throw Fault(kind: .software, vector: UInt8(truncatingIfNeeded: i.pointee.imm), trap: true)
        case .into:
            if of { throw Fault(kind: .software, vector: 4, trap: true) }
        case .int1:
            throw Fault.int1()
        case .hlt:
            if cpl != 0 { throw Fault.GP(0) }
            if vmx.nonRoot && vmx.proc & Proc.hltExiting != 0 { try vmExitForInstruction(i, .hlt, qualification: 0, instructionInfo: 0) }
            // Halt until an interrupt, an NMI or a timer event wakes the CPU (Interrupts.swift);
            // when nothing can, stop and say so.
            if canWake {
                halted = true
                haltWaitingAt = rip &- UInt64(i.pointee.len)
                eventsPending.pointee = 1
            } else {
                pendingStop = .halted(rip: rip &- UInt64(i.pointee.len), interruptsEnabled: flagsRest & RFLAGS.if != 0)
                halted = true
                throw Fault(kind: .stop, vector: 0xFF, trap: true)
            }
        case .movs, .cmps, .stos, .lods, .scas, .ins, .outs:
            try stringInsn(i)
        case .inPort, .outPort:
            let port = UInt16(i.pointee.portIsImmediate ? i.pointee.imm : regs[Reg.rdx] & 0xFFFF)
            let size = 1 << Int(osz)
            try checkIOPermission(port, size)
            if vmx.nonRoot && ioExits(port, size) {
                try vmExitForInstruction(i, .ioInstruction, qualification: ioQualification(
                    port: port, size: size, input: i.pointee.op == .inPort, string: false, rep: false,
                    immediate: i.pointee.portIsImmediate), instructionInfo: 0)
            }
            if !guestBreakpoints.isEmpty { checkIOBreakpoints(port, size) }
            if i.pointee.op == .inPort {
                setReg(osz, 0, UInt64(io.portRead(port, size: size)) & m)
            } else {
                io.portWrite(port, size: size, value: UInt32(truncatingIfNeeded: regs[Reg.rax] & m))
                if io.stopRequested { pendingStop = .deviceRequest; throw Fault(kind: .stop, vector: 0xFF, trap: true) }
            }
        default:
            try executeSystem(i)
        }
    }

    @inline(__always) func byteSwap(_ v: UInt64, _ size: UInt8) -> UInt64 {
        switch size {
        case 1: return UInt64(UInt16(truncatingIfNeeded: v).byteSwapped)
        case 2: return UInt64(UInt32(truncatingIfNeeded: v).byteSwapped)
        default: return v.byteSwapped
        }
    }

    /// MUL/IMUL (one operand) and DIV/IDIV (SDM Vol. 2 "MUL", "IMUL", "DIV", "IDIV").
    func mulDiv1(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let m = CPU.mask(osz)
        let src = try readRM(i, osz)
        let bits = UInt64(8) << UInt64(osz)
        switch i.pointee.op {
        case .mulE:
            let a = getReg(osz, 0)
            let (hi, lo) = a.multipliedFullWidth(by: src)
            let rlo: UInt64, rhi: UInt64
            if osz == 3 { rlo = lo; rhi = hi } else { rlo = lo & m; rhi = (lo >> bits) & m }
            storeWide(osz, rlo, rhi)
            let f: UInt64 = rhi != 0 ? RFLAGS.cf | RFLAGS.of : 0
            setArith(f | szp(osz, rlo))
        case .imul1E:
            let a = Int64(bitPattern: signExtend(getReg(osz, 0), osz))
            let b = Int64(bitPattern: signExtend(src, osz))
            let (hi, lo) = a.multipliedFullWidth(by: b)
            let rlo: UInt64, rhi: UInt64, ovf: Bool
            if osz == 3 { rlo = UInt64(lo); rhi = UInt64(bitPattern: hi); ovf = hi != (Int64(bitPattern: lo) >> 63) }
            else {
                let full = Int64(bitPattern: lo)
                rlo = UInt64(bitPattern: full) & m; rhi = UInt64(bitPattern: full >> Int64(bits)) & m
                ovf = Int64(bitPattern: signExtend(rlo, osz)) != full
            }
            storeWide(osz, rlo, rhi)
            setArith((ovf ? RFLAGS.cf | RFLAGS.of : 0) | szp(osz, rlo))
        case .divE:
            if src == 0 { throw Fault.DE() }
            let lo = getReg(osz, 0)
            let hi: UInt64 = osz == 0 ? (regs[Reg.rax] >> 8) & 0xFF : getReg(osz, 2)
            if osz == 3 {
                if hi >= src { throw Fault.DE() }
                let (q, r) = src.dividingFullWidth((hi, lo))
                storeDiv(osz, q, r)
            } else {
                let n = (hi << bits) | lo
                let q = n / src, r = n % src
                if q > m { throw Fault.DE() }
                storeDiv(osz, q, r)
            }
        default: // IDIV
            if src == 0 { throw Fault.DE() }
            let d = Int64(bitPattern: signExtend(src, osz))
            if osz == 3 {
                let lo = regs[Reg.rax], hi = regs[Reg.rdx]
                // 128-by-64 signed division via magnitudes.
                let neg = Int64(bitPattern: hi) < 0
                var (mh, ml) = (hi, lo)
                if neg { ml = ~ml &+ 1; mh = ~mh &+ (ml == 0 ? 1 : 0) }
                let dm = d < 0 ? UInt64(bitPattern: 0 &- d) : UInt64(d)
                if mh >= dm { throw Fault.DE() }
                let (q, r) = dm.dividingFullWidth((mh, ml))
                let qneg = neg != (d < 0)
                if qneg ? q > (1 << 63) : q > UInt64(Int64.max) { throw Fault.DE() }
                let qs = qneg ? 0 &- q : q
                let rs = neg ? 0 &- r : r
                storeDiv(osz, qs, rs)
            } else {
                let lo = getReg(osz, 0)
                let hi: UInt64 = osz == 0 ? (regs[Reg.rax] >> 8) & 0xFF : getReg(osz, 2)
                let sh = 64 - 2 * Int64(bits)
                let n = (Int64(bitPattern: (hi << bits) | lo) << sh) >> sh
                // EDX:EAX = −2⁶³ by −1: the quotient 2⁶³ does not fit (#DE on the CPU; a trap in
                // Swift's Int64 division, so it is checked first).
                if n == Int64.min && d == -1 { throw Fault.DE() }
                let q = n / d, r = n % d
                let lim = Int64(1) << (Int64(bits) - 1)
                if q >= lim || q < -lim { throw Fault.DE() }
                storeDiv(osz, UInt64(bitPattern: q) & m, UInt64(bitPattern: r) & m)
            }
        }
    }

    /// Store a double-width product: AX for bytes, DX:AX, EDX:EAX, RDX:RAX otherwise.
    func storeWide(_ osz: UInt8, _ lo: UInt64, _ hi: UInt64) {
        if osz == 0 { setReg(1, 0, (hi << 8) | lo) } else { setReg(osz, 0, lo); setReg(osz, 2, hi) }
    }

    func storeDiv(_ osz: UInt8, _ q: UInt64, _ r: UInt64) {
        if osz == 0 { setReg(0, 0, q); setReg(0, 16, r) } else { setReg(osz, 0, q); setReg(osz, 2, r) }
    }

    /// BT/BTS/BTR/BTC (SDM Vol. 2 "BT"): with a register offset and a memory operand the offset
    /// addresses bits beyond the operand (signed, in operand-size units).
    func bitTest(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let bits = Int64(8) << Int64(osz)
        let op = i.pointee.bitOp   // 4 BT, 5 BTS, 6 BTR, 7 BTC
        var off: Int64
        if i.pointee.bitOffsetIsImmediate { off = Int64(i.pointee.imm) & (bits - 1) }
        else { off = Int64(bitPattern: signExtend(getReg(osz, i.pointee.reg), osz)) }
        if i.pointee.mem {
            var addr = ea(i)
            if !i.pointee.bitOffsetIsImmediate {
                let unit = off >> (Int64(osz) + 3)      // floor division by bits
                addr = addr &+ UInt64(bitPattern: unit &* (bits / 8))
                addr &= CPU.mask(i.pointee.asz)
                off &= bits - 1
            }
            let seg = Int(i.pointee.seg)
            if op != 4 { try probeWrite(osz, seg, addr) }
            let v = try readMem(osz, seg, addr)
            let bit = UInt64(1) << UInt64(off)
            setArith((arithFlags() & ~RFLAGS.cf) | (v & bit != 0 ? RFLAGS.cf : 0))
            switch op {
            case 5: try writeMem(osz, seg, addr, v | bit)
            case 6: try writeMem(osz, seg, addr, v & ~bit)
            case 7: try writeMem(osz, seg, addr, v ^ bit)
            default: break
            }
        } else {
            off &= bits - 1
            let v = getReg(osz, i.pointee.rm)
            let bit = UInt64(1) << UInt64(off)
            setArith((arithFlags() & ~RFLAGS.cf) | (v & bit != 0 ? RFLAGS.cf : 0))
            switch op {
            case 5: setReg(osz, i.pointee.rm, v | bit)
            case 6: setReg(osz, i.pointee.rm, v & ~bit)
            case 7: setReg(osz, i.pointee.rm, v ^ bit)
            default: break
            }
        }
    }

    /// SHLD/SHRD (SDM Vol. 2 "SHLD—Double Precision Shift Left", "SHRD"). A count larger than
    /// the operand size (16-bit forms) gives an undefined result; we shift through the 32-bit
    /// concatenation as Intel silicon does.
    func doubleShift(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let raw = i.pointee.countSource == Insn.countCL ? regs[Reg.rcx] & 0xFF : i.pointee.imm
        let count = raw & (osz == 3 ? 63 : 31)
        if i.pointee.mem { try probeWrite(osz, Int(i.pointee.seg), ea(i)) }
        let a = try readRM(i, osz)
        // Count 0: as for shifts, a 32-bit register destination is still written (zero-extended).
        if count == 0 { if osz == 2 && !i.pointee.mem { setReg(2, i.pointee.rm, a) }; return }
        let b = getReg(osz, i.pointee.reg)
        let bits: UInt64 = osz == 1 ? 32 : UInt64(8) << UInt64(osz)
        let m = CPU.mask(osz), sb = CPU.signBit(osz)
        // For 16-bit operands build the 32-bit pattern a:b (SHLD) or b:a (SHRD) first.
        let r: UInt64, c: Bool
        if i.pointee.op == .shld {
            let wa = osz == 1 ? (a << 16) | b : a
            let wb = osz == 1 ? (b << 16) | b : b
            let full = count >= bits ? 0 : (wa << count) | (wb >> (bits - count))
            r = osz == 1 ? (full >> 16) & m : full & m
            c = (wa >> (bits - count)) & 1 != 0
        } else {
            let wa = osz == 1 ? (b << 16) | a : a
            let wb = b
            let full = (wa >> count) | (count == 0 ? 0 : (wb << (bits - count)))
            r = full & m
            c = (wa >> (count - 1)) & 1 != 0
        }
        let o = (r ^ a) & sb != 0
        setArith(szp(osz, r) | (c ? RFLAGS.cf : 0) | (o ? RFLAGS.of : 0))
        try writeRM(i, osz, r)
    }

    /// POPF (SDM Vol. 2 "POPF/POPFD/POPFQ"): which flags may change depends on CPL and IOPL.
    /// In virtual-8086 mode (CPL 3): #GP(0) when IOPL < 3 (no CR4.VME); with IOPL = 3 IF may
    /// change but IOPL, VIP, VIF and VM may not, and a 32-bit POPF clears RF (Operation,
    /// "ELSE IF (Mode = VM)"; §20.2.7 "Sensitive Instructions").
    func popf(_ osz: UInt8) throws(Fault) {
        let inV86 = flagsRest & RFLAGS.vm != 0
        if inV86 && flagsRest & RFLAGS.iopl != RFLAGS.iopl { throw Fault.GP(0) }
        let v = try pop(osz)
        let old = flags()
        var mask: UInt64 = RFLAGS.arith | RFLAGS.tf | RFLAGS.df | RFLAGS.nt
        if osz >= 2 { mask |= RFLAGS.ac | RFLAGS.id }
        if inV86 && osz >= 2 { mask |= RFLAGS.rf }   // and bit 16 of the popped value is ignored: RF ← 0
        let v2 = inV86 ? v & ~RFLAGS.rf : v
        let iopl = UInt8((old >> 12) & 3)
        if cr0 & CR0.pe == 0 || cpl == 0 { mask |= RFLAGS.iopl | RFLAGS.if }
        else if cpl <= iopl { mask |= RFLAGS.if }
        setFlags((old & ~mask) | (v2 & mask))
    }

    /// ENTER (SDM Vol. 2 "ENTER").
    func enter(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let size = i.pointee.imm
        let level = i.pointee.nestingLevel & 31
        let n = UInt64(1) << UInt64(osz)
        let rsp0 = regs[Reg.rsp]
        do {
            try push(osz, getReg(osz, UInt8(Reg.rbp)))
            let frame = getReg(osz, UInt8(Reg.rsp))
            if level > 0 {
                var bp = getReg(osz, UInt8(Reg.rbp))
                for _ in 1..<max(level, 1) {
                    bp = (bp &- n) & stackMask
                    try push(osz, try readMem(osz, Seg.ss, bp))
                }
                try push(osz, frame)
            }
            setReg(osz, UInt8(Reg.rbp), frame)
            let m = stackMask
            let sp = (regs[Reg.rsp] &- size) & m
            // Touch the new stack top so a fault happens here, as on hardware.
            if size > 0 { _ = try readMem(0, Seg.ss, sp) }
            regs[Reg.rsp] = m == ~0 ? sp : (regs[Reg.rsp] & ~m) | sp
        } catch { regs[Reg.rsp] = rsp0; throw error }
    }

    /// I/O permission (SDM Vol. 1 §19.5 "Protected-Mode I/O"): when CPL > IOPL, consult the TSS
    /// I/O permission bitmap. In virtual-8086 mode the bitmap is consulted whatever IOPL is
    /// (Vol. 3B §20.2.8 "Virtual-8086 Mode I/O", §20.2.8.1 "I/O-Port-Mapped I/O").
    func checkIOPermission(_ port: UInt16, _ size: Int) throws(Fault) {
        if cr0 & CR0.pe == 0 { return }
        if cpl <= UInt8((flagsRest >> 12) & 3) && flagsRest & RFLAGS.vm == 0 { return }
        let tr = segs[Seg.tr]
        if tr.unusable || tr.limit < 0x67 { throw Fault.GP(0) }
        let bmBase = try readSystem(tr.base &+ 0x66, 2)
        let byte = bmBase + UInt64(port >> 3)
        if byte + 1 > UInt64(tr.limit) { throw Fault.GP(0) }
        let w = try readSystem(tr.base &+ byte, 2)
        let mask = UInt64((1 << size) - 1) << UInt64(port & 7)
        if w & mask != 0 { throw Fault.GP(0) }
    }

    /// String instructions with REP/REPE/REPNE (SDM Vol. 2 "MOVS", "CMPS", "STOS", "LODS", "SCAS",
    /// "INS", "OUTS", "REP/REPE/REPZ/REPNE/REPNZ"). The count register and index registers use the
    /// address size. Each iteration commits before the next, so a fault mid-way leaves the
    /// registers describing the remaining work, as on hardware (RIP stays at the instruction).
    func stringInsn(_ i: UnsafePointer<Insn>) throws(Fault) {
        let osz = i.pointee.osz
        let am = CPU.mask(i.pointee.asz)
        let n = UInt64(1) << UInt64(osz)
        let delta: UInt64 = flagsRest & RFLAGS.df != 0 ? 0 &- n : n
        let seg = Int(i.pointee.seg)
        let op = i.pointee.op
        let rep = i.pointee.rep
        let start = rip &- UInt64(i.pointee.len)
        @inline(__always) func setIdx(_ r: Int, _ v: UInt64) {
            regs[r] = am == ~0 ? v : (am == 0xFFFF_FFFF ? v & am : (regs[r] & ~am) | (v & am))
        }
        if op == .ins || op == .outs {
            let port = UInt16(regs[Reg.rdx] & 0xFFFF)
            try checkIOPermission(port, Int(n))
            if vmx.nonRoot && ioExits(port, Int(n)) {
                // INS/OUTS: the guest-linear address of the memory operand and the
                // instruction information of Table 27-8 (address size 9:7, segment 17:15).
                let lin = op == .ins ? segBase[Seg.es] &+ (regs[Reg.rdi] & am) : segBase[seg] &+ (regs[Reg.rsi] & am)
                let asz: UInt32 = i.pointee.asz == 1 ? 0 : (i.pointee.asz == 2 ? 1 : 2)
                try vmExitForInstruction(i, .ioInstruction, qualification: ioQualification(
                    port: port, size: Int(n), input: op == .ins, string: true, rep: rep != 0, immediate: false),
                    instructionInfo: asz << 7 | (op == .outs ? UInt32(seg) << 15 : 0), guestLinear: lin)
            }
        }
        // Iterations before yielding back to the run loop (interrupt window, deadlines): a slice of
        // at most `repSlice`, and no more than the REP iterations left to this run (`repAllowance`,
        // set by `run(budget:)`): iterations count toward the run's budget, so one long REP can
        // neither hold the run loop nor hide its work from the deadline. At least one, so the
        // instruction always progresses.
        let slice = rep == 0 ? 1 : max(1, Int(min(UInt64(CPU.repSlice), repAllowance)))
        var budget = slice
        defer {
            if rep != 0 {
                let used = UInt64(slice &- budget)
                repAllowance = repAllowance > used ? repAllowance &- used : 0
            }
        }
        while true {
            if rep != 0 && regs[Reg.rcx] & am == 0 { return }
            switch op {
            case .movs:
                let v = try readMem(osz, seg, regs[Reg.rsi] & am)
                try writeMem(osz, Seg.es, regs[Reg.rdi] & am, v)
                setIdx(Reg.rsi, regs[Reg.rsi] &+ delta); setIdx(Reg.rdi, regs[Reg.rdi] &+ delta)
            case .stos:
                try writeMem(osz, Seg.es, regs[Reg.rdi] & am, getReg(osz, 0))
                setIdx(Reg.rdi, regs[Reg.rdi] &+ delta)
            case .lods:
                setReg(osz, 0, try readMem(osz, seg, regs[Reg.rsi] & am))
                setIdx(Reg.rsi, regs[Reg.rsi] &+ delta)
            case .cmps:
                let a = try readMem(osz, seg, regs[Reg.rsi] & am)
                let b = try readMem(osz, Seg.es, regs[Reg.rdi] & am)
                _ = alu(7, osz, a, b)
                setIdx(Reg.rsi, regs[Reg.rsi] &+ delta); setIdx(Reg.rdi, regs[Reg.rdi] &+ delta)
            case .scas:
                let b = try readMem(osz, Seg.es, regs[Reg.rdi] & am)
                _ = alu(7, osz, getReg(osz, 0), b)
                setIdx(Reg.rdi, regs[Reg.rdi] &+ delta)
            case .ins:
                try probeWrite(osz, Seg.es, regs[Reg.rdi] & am)
                if !guestBreakpoints.isEmpty { checkIOBreakpoints(UInt16(regs[Reg.rdx] & 0xFFFF), Int(n)) }
                let v = io.portRead(UInt16(regs[Reg.rdx] & 0xFFFF), size: Int(n))
                try writeMem(osz, Seg.es, regs[Reg.rdi] & am, UInt64(v))
                setIdx(Reg.rdi, regs[Reg.rdi] &+ delta)
            default: // outs
                let v = try readMem(osz, seg, regs[Reg.rsi] & am)
                if !guestBreakpoints.isEmpty { checkIOBreakpoints(UInt16(regs[Reg.rdx] & 0xFFFF), Int(n)) }
                io.portWrite(UInt16(regs[Reg.rdx] & 0xFFFF), size: Int(n), value: UInt32(truncatingIfNeeded: v))
                setIdx(Reg.rsi, regs[Reg.rsi] &+ delta)
            }
            if rep == 0 { return }
            setIdx(Reg.rcx, (regs[Reg.rcx] &- 1))
            if op == .cmps || op == .scas {
                if rep == 1 && !zf { return }     // REPE: stop when not equal
                if rep == 2 && zf { return }      // REPNE: stop when equal
            }
            // A data or I/O breakpoint hit by a repeated string instruction traps after that
            // iteration (SDM Vol. 3A §17.3.1.2 "Data Memory and I/O Breakpoint Exception
            // Conditions"): end the instruction here, to be resumed after the #DB.
            if guestDataHits != 0 {
                if regs[Reg.rcx] & am != 0 { rip = start }
                return
            }
            if op == .outs && io.stopRequested {
                if regs[Reg.rcx] & am != 0 { rip = start }
                pendingStop = .deviceRequest
                throw Fault(kind: .stop, vector: 0xFF, trap: true)
            }
            budget -= 1
            if budget == 0 {
                // Let the run loop look at interrupts and budgets; resume the same instruction.
                if regs[Reg.rcx] & am != 0 {
                    rip = start
                    if repAllowance <= UInt64(slice) {
                        // The run's allowance is spent: end the run as its budget would.
                        pendingStop = .budget
                        throw Fault(kind: .stop, vector: 0xFF, trap: true)
                    }
                }
                return
            }
        }
    }
}

extension Int {
    var u8: UInt8 { UInt8(truncatingIfNeeded: self) }
}
