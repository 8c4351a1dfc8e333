// The kernel symbol table: read from ELF32 and ELF64, looked up by name and by address.

import Machine
import Testing

@Suite struct SymbolTableTests {
    @Test(arguments: [false, true])
    func readsFunctionAndObjectSymbolsOnly(is64: Bool) {
        let table = SymbolTable(elf: (is64 ? standardELF64() : standardELF32()).build().bytes)
        // _start, kmain, helper, spin (FUNC), counter (OBJECT); not NOTYPE, SECTION or undefined ones.
        #expect(Set(table.symbols.map(\.name)) == ["_start", "kmain", "helper", "spin", "counter"])
        #expect(table.symbol(named: "counter") == Symbol(name: "counter", address: 0x10_2000, size: 4, kind: .object))
        #expect(table.symbol(named: "helper")?.binding == .local)
        #expect(table.symbol(named: "kmain")?.kind == .function)
        #expect(table.symbol(named: "stack_top") == nil)
        #expect(table.symbol(named: "extern_fn") == nil)
    }

    @Test(arguments: [false, true])
    func lookupByNameAndByAddress(is64: Bool) {
        let table = SymbolTable(elf: (is64 ? standardELF64() : standardELF32()).build().bytes)
        #expect(table.address(of: "kmain") == 0x10_0020)
        #expect(table.address(of: "_start") == 0x10_000C)
        #expect(table.address(of: "nonexistent") == nil)
        #expect(table.symbolize(0x10_000C) == "_start")
        #expect(table.symbolize(0x10_0032) == "kmain+0x12")
        #expect(table.symbolize(0x10_005F) == "kmain+0x3f")
        #expect(table.symbolize(0x10_0060) == "helper")
        #expect(table.symbolize(0x10_2003) == "counter+0x3")
        #expect(table.symbolize(0x10_2004) == nil)  // past the object's size
        #expect(table.symbolize(0x10_0000) == nil)  // before the first symbol
        #expect(table.symbolize(0x10_0080) == nil)  // gap after helper, before the label
        // A size-0 label names the code after it.
        #expect(table.symbolize(0x10_0104) == "spin+0x4")
        let hit = table.lookup(0x10_0024)
        #expect(hit?.symbol.name == "kmain" && hit?.offset == 4)
    }

    @Test func innermostSizedSymbolWinsAndGlobalsWinNames() {
        let table = SymbolTable([
            Symbol(name: "outer", address: 0x1000, size: 0x100, kind: .function),
            Symbol(name: "inner", address: 0x1040, size: 0x10, kind: .function),
            Symbol(name: "dup", address: 0x3000, size: 8, kind: .object, binding: .local),
            Symbol(name: "dup", address: 0x4000, size: 8, kind: .object, binding: .global),
            Symbol(name: "huge", address: 0x0, size: .max, kind: .object),
        ])
        #expect(table.symbolize(0x1044) == "inner+0x4")
        #expect(table.symbolize(0x1050) == "outer+0x50")  // inner ended; outer still covers it
        #expect(table.symbolize(0x2000) == "huge+0x2000")
        #expect(table.address(of: "dup") == 0x4000)
        #expect(table.symbolize(UInt64.max) == nil)  // `huge` ends at UInt64.max (exclusive)
        // A symbol at the very top of the address space still covers its bytes.
        let top = SymbolTable([Symbol(name: "top", address: .max - 1, size: 16, kind: .object)])
        #expect(top.symbolize(.max) == "top+0x1")
        #expect(top.symbolize(.max - 1) == "top")
    }

    @Test func nonELFAndStrippedImagesHaveNoSymbols() {
        #expect(SymbolTable(elf: []).isEmpty)
        #expect(SymbolTable(elf: flatKludgeKernel()).isEmpty)
        var b = Bytes(standardELF32().build().bytes)
        b.put32(0, at: 32)  // e_shoff = 0: no section headers
        #expect(SymbolTable(elf: b.data).isEmpty)
    }

    @Test func unterminatedNamesAreSkipped() {
        let built = standardELF32().build()
        var b = Bytes(built.bytes)
        // Shrink .strtab (section 3) to 1 byte: every name offset now points past its end.
        b.put32(1, at: built.shoff + 3 * 40 + 20)
        #expect(SymbolTable(elf: b.data).isEmpty)
    }
}
