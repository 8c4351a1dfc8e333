// VEX-encoded general-purpose forms (BMI1, BMI2) and ADX for the integer run. The host (AMD EPYC)
// implements all of them; SDM-undefined flags are masked through Zydis like every other form.
// Encodings: SDM Vol. 2A §2.3 "Intel® Advanced Vector Extensions (Intel® AVX)" (3-byte VEX
// C4: R̄ X̄ B̄ m-mmmm, W v̄v̄v̄v̄ L pp), and each instruction's page (ANDN, BEXTR, BLSI, BLSMSK,
// BLSR, BZHI, MULX, PDEP, PEXT, RORX, SARX/SHLX/SHRX, ADCX, ADOX).

extension Generator {
    /// `VEX.LZ.pp.map.W opcode /r`: `reg` in ModRM.reg, `vvvv` the VEX register, `rm` ModRM.r/m.
    /// map 2 = 0F38, 3 = 0F3A; pp 0 none, 1 66, 2 F3, 3 F2.
    mutating func vex(_ name: String, pp: UInt8, map: UInt8, opcode: UInt8, w: Bool, reg: Int, vvvv: Int,
                      rm: RM, imm: [UInt8] = []) -> [Insn] {
        let t = modrmTail(reg: reg, rm: rm)
        var prefixes = t.prefixes
        prefixes.shuffle(using: &rng)
        let byte1: UInt8 = (reg >= 8 ? 0 : 0x80) | (t.x ? 0 : 0x40) | (t.b ? 0 : 0x20) | map
        let byte2: UInt8 = (w ? 0x80 : 0) | UInt8(~vvvv & 0xF) << 3 | pp
        let head = prefixes + [0xC4, byte1, byte2, opcode]
        var i = Insn(bytes: head + t.bytes + imm, form: name)
        if let a = t.ripAt { i.ripRel = (head.count + a, t.ripTarget) }
        return done(name, (i, t.preludes))
    }

    /// A 32- or 64-bit source r/m (register: any, RSP included; memory: the data page).
    mutating func bmiSource(wide: Bool, avoid: Set<Int> = []) -> RM {
        if rng.chance(0.4) { return .mem(mem(size: wide ? 8 : 4, avoid: avoid)) }
        return .reg(anyReg())
    }
}

let bmiForms: [Form] = [
    // ANDN r, v, r/m (BMI1): dest = ~v & r/m.
    Form(name: "andn", weight: 2) { g in
        let w = g.rng.chance(0.5)
        return g.vex("andn", pp: 0, map: 2, opcode: 0xF2, w: w, reg: g.destReg(), vvvv: g.anyReg(), rm: g.bmiSource(wide: w))
    },
    // BEXTR r, r/m, v (BMI1): start = v[7:0], length = v[15:8]; the control gets a prelude so
    // the interesting range (start, length < 72) is hit, not just "everything shifted out".
    Form(name: "bextr", weight: 2) { g in
        let w = g.rng.chance(0.5)
        let ctl = g.freeReg([])
        let control = UInt64(g.rng.below(72)) | UInt64(g.rng.below(72)) << 8 | (g.rng.chance(0.2) ? g.rng.next() << 16 : 0)
        let set = g.movImm(ctl, control)
        return [set] + g.vex("bextr", pp: 0, map: 2, opcode: 0xF7, w: w, reg: g.destReg(), vvvv: ctl,
                             rm: g.bmiSource(wide: w, avoid: [ctl]))
    },
    // BLSR /1, BLSMSK /2, BLSI /3 (BMI1, group 17): the destination is VEX.vvvv.
    Form(name: "blsr/blsmsk/blsi", weight: 3) { g in
        let w = g.rng.chance(0.5), sub = 1 + g.rng.below(3)
        let name = ["", "blsr", "blsmsk", "blsi"][sub]
        return g.vex(name, pp: 0, map: 2, opcode: 0xF3, w: w, reg: sub, vvvv: g.destReg(), rm: g.bmiSource(wide: w))
    },
    // BZHI r, r/m, v (BMI2): index = v[7:0].
    Form(name: "bzhi", weight: 2) { g in
        let w = g.rng.chance(0.5)
        let idx = g.freeReg([])
        let set = g.movImm(idx, UInt64(g.rng.below(80)) | (g.rng.chance(0.2) ? g.rng.next() << 8 : 0))
        return [set] + g.vex("bzhi", pp: 0, map: 2, opcode: 0xF5, w: w, reg: g.destReg(), vvvv: idx,
                             rm: g.bmiSource(wide: w, avoid: [idx]))
    },
    // PDEP (F2) / PEXT (F3) r, v, r/m (BMI2).
    Form(name: "pdep/pext", weight: 2) { g in
        let w = g.rng.chance(0.5), pdep = g.rng.chance(0.5)
        return g.vex(pdep ? "pdep" : "pext", pp: pdep ? 3 : 2, map: 2, opcode: 0xF5, w: w, reg: g.destReg(),
                     vvvv: g.anyReg(), rm: g.bmiSource(wide: w))
    },
    // MULX hi, lo, r/m (BMI2): RDX/EDX × r/m, flags untouched; hi = lo gives the high half.
    Form(name: "mulx", weight: 2) { g in
        let w = g.rng.chance(0.5)
        return g.vex("mulx", pp: 3, map: 2, opcode: 0xF6, w: w, reg: g.destReg(), vvvv: g.destReg(),
                     rm: g.bmiSource(wide: w, avoid: [2]))
    },
    // RORX r, r/m, imm8 (BMI2): VEX.vvvv must be 1111B.
    Form(name: "rorx", weight: 2) { g in
        let w = g.rng.chance(0.5)
        return g.vex("rorx", pp: 3, map: 3, opcode: 0xF0, w: w, reg: g.destReg(), vvvv: 0, rm: g.bmiSource(wide: w),
                     imm: [UInt8(g.rng.below(256))])
    },
    // SARX (F3) / SHLX (66) / SHRX (F2) r, r/m, v (BMI2): count = v masked to 5/6 bits.
    Form(name: "sarx/shlx/shrx", weight: 3) { g in
        let w = g.rng.chance(0.5), k = g.rng.below(3)
        return g.vex(["sarx", "shlx", "shrx"][k], pp: [2, 1, 3][k], map: 2, opcode: 0xF7, w: w, reg: g.destReg(),
                     vvvv: g.anyReg(), rm: g.bmiSource(wide: w))
    },
    // ADCX (66) / ADOX (F3) r, r/m (ADX): add with CF / OF, only that flag written.
    Form(name: "adcx/adox", weight: 3) { g in
        let size = g.rng.chance(0.5) ? 8 : 4, adcx = g.rng.chance(0.5)
        let (rm, _) = g.rmOperand(size: size, write: false)
        return g.done(adcx ? "adcx" : "adox", g.encode(prefixes: [adcx ? 0x66 : 0xF3], size: size, opcode: [0x0F, 0x38, 0xF6],
                                                      reg: g.destReg(), rm: rm))
    },
]
