// `translate ADDR`: the page walk of a linear address, level by level, with entry addresses,
// values and decoded flags. A successful walk is the CPU's own (`debugWalk`); where the walk
// fails, the levels are re-read here to show how far it got and why it stopped (the CPU's
// walker does not record the levels of a failed walk).

import X86

enum PageWalkReport {
    static func render(_ lin: UInt64, cpu: CPU) -> String {
        var out = "translate 0x\(hex(lin))  (\(pagingName(cpu)))\n"
        let paging = cpu.cr0 & CR0.pg != 0
        if !paging {
            out += "  paging is off: linear 0x\(hex(lin)) = physical 0x\(hex(lin & 0xFFFF_FFFF))\n"
            return out
        }
        let longMode = cpu.efer & EFER.lma != 0
        if longMode {
            let canonical = UInt64(bitPattern: (Int64(bitPattern: lin) << 16) >> 16) == lin
            if !canonical {
                out += "  0x\(hex(lin)) is not canonical (bits 63:47 differ): no translation (#GP on access)\n"
                return out
            }
        }
        out += "  CR3 = 0x\(hex(cpu.cr3))\n"
        let walk = cpu.debugWalk(lin)
        var steps = walk.steps.map { Step(name: $0.0, address: $0.1, value: $0.2) }
        if walk.phys == nil && steps.isEmpty { steps = manualWalk(lin, cpu: cpu) }
        let wide = cpu.cr4 & CR4.pae != 0 || longMode
        for s in steps {
            let index = s.name.hasPrefix("PDPTE") && !longMode
                ? (lin >> 30) & 3 : (s.address & 0xFFF) / (wide ? 8 : 4)
            let label = s.name.hasPrefix("PDPTE") && !longMode ? "PDPTE" : s.name
            let valueText = wide ? hex(s.value, 16) : hex(s.value, 8)
            out += "  \(label)[\(index)]".padded(14) + "@ 0x\(hex(s.address))  = 0x\(valueText)  \(flags(s.value, wide: wide))\n"
        }
        if let phys = walk.phys {
            out += "  → physical 0x\(hex(phys))"
            if let last = steps.last, last.value & 0x80 != 0, last.name != "PTE" {
                out += last.name.hasPrefix("PDPTE") ? "  (1 GiB page)" : (wide ? "  (2 MiB page)" : "  (4 MiB page)")
            }
            out += "\n"
        } else if let last = steps.last {
            out += last.value & 1 == 0 ? "  → not present at the \(last.name) (#PF on access)\n"
                : "  → reserved bits set in the \(last.name) (#PF on access)\n"
        } else {
            out += "  → no translation\n"
        }
        return out
    }

    struct Step {
        var name: String
        var address: UInt64
        var value: UInt64
    }

    static func pagingName(_ cpu: CPU) -> String {
        if cpu.cr0 & CR0.pg == 0 { return "paging off" }
        if cpu.efer & EFER.lma != 0 { return cpu.cr4 & (1 << 12) != 0 ? "5-level paging" : "4-level paging" }
        return cpu.cr4 & CR4.pae != 0 ? "PAE paging" : "32-bit paging"
    }

    /// The levels of a walk, read until the first entry that ends it (not present, or a page).
    static func manualWalk(_ lin: UInt64, cpu: CPU) -> [Step] {
        let mem = cpu.memory
        let mask: UInt64 = 0x000F_FFFF_FFFF_F000
        var steps: [Step] = []
        if cpu.efer & EFER.lma != 0 || cpu.cr4 & CR4.pae != 0 {
            var table: UInt64
            var level: Int
            if cpu.efer & EFER.lma != 0 {
                table = cpu.cr3 & mask
                level = 4
            } else {
                let idx = Int((lin >> 30) & 3)
                let e = [cpu.pdpte.0, cpu.pdpte.1, cpu.pdpte.2, cpu.pdpte.3][idx]
                steps.append(Step(name: "PDPTE\(idx)", address: (cpu.cr3 & 0xFFFF_FFE0) + UInt64(idx * 8), value: e))
                if e & 1 == 0 { return steps }
                table = e & mask
                level = 2
            }
            let names = ["", "PTE", "PDE", "PDPTE", "PML4E"]
            while level >= 1 {
                let shift = UInt64(12 + 9 * (level - 1))
                let ea = table | (((lin >> shift) & 0x1FF) << 3)
                let e = mem.read64(at: ea)
                steps.append(Step(name: names[level], address: ea, value: e))
                if e & 1 == 0 || (level <= 3 && level >= 2 && e & 0x80 != 0) { break }
                table = e & mask
                level -= 1
            }
        } else {
            let pdeA = (cpu.cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC)
            let pde = UInt64(mem.read32(at: pdeA))
            steps.append(Step(name: "PDE", address: pdeA, value: pde))
            if pde & 1 == 0 || (pde & 0x80 != 0 && cpu.cr4 & CR4.pse != 0) { return steps }
            let pteA = (pde & 0xFFFF_F000) | ((lin >> 10) & 0xFFC)
            steps.append(Step(name: "PTE", address: pteA, value: UInt64(mem.read32(at: pteA))))
        }
        return steps
    }

    /// The flags of a paging-structure entry: "P RW US A D PS G XD" (what is set).
    static func flags(_ e: UInt64, wide: Bool) -> String {
        if e & 1 == 0 { return "not present" }
        var f = ["P"]
        if e & 2 != 0 { f.append("RW") } else { f.append("RO") }
        f.append(e & 4 != 0 ? "US" : "S")
        if e & 8 != 0 { f.append("PWT") }
        if e & 0x10 != 0 { f.append("PCD") }
        if e & 0x20 != 0 { f.append("A") }
        if e & 0x40 != 0 { f.append("D") }
        if e & 0x80 != 0 { f.append("PS") }
        if e & 0x100 != 0 { f.append("G") }
        if wide && e & (1 << 63) != 0 { f.append("XD") }
        return f.joined(separator: " ")
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
