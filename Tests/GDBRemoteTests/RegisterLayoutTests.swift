// The register table, the g/G encoding derived from it, and target.xml.
import Testing
@testable import GDBRemote
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#else
import Foundation
#endif

@Suite struct RegisterLayoutTests {
    let layout = GDBRegisterLayout.x86_64

    @Test func regnumsAreGDBsAMD64Numbering() {
        // gdb's amd64 numbering for the standard features (amd64-tdep.h).
        let expected: [(String, Int)] = [
            ("rax", 0), ("rbx", 1), ("rcx", 2), ("rdx", 3), ("rsi", 4), ("rdi", 5), ("rbp", 6), ("rsp", 7),
            ("r8", 8), ("r15", 15), ("rip", 16), ("eflags", 17), ("cs", 18), ("gs", 23), ("st0", 24),
            ("st7", 31), ("fctrl", 32), ("fop", 39), ("xmm0", 40), ("xmm15", 55), ("mxcsr", 56),
            ("fs_base", 57), ("gs_base", 58), ("cr0", 59), ("efer", 64), ("dr7", 75), ("vmx_mode", 76),
        ]
        for (name, n) in expected { #expect(layout.regnum(name) == n, "\(name)") }
        for (i, r) in layout.registers.enumerated() { #expect(r.regnum == i) }
        #expect(Set(layout.registers.map(\.name)).count == layout.count)
    }

    @Test func registerSizes() {
        #expect(layout.register(named: "rip")?.bitSize == 64)
        #expect(layout.register(named: "eflags")?.bitSize == 32)
        #expect(layout.register(named: "cs")?.bitSize == 32)
        #expect(layout.register(named: "st3")?.bitSize == 80)
        #expect(layout.register(named: "xmm9")?.bitSize == 128)
        #expect(layout.register(named: "cr3")?.type == "int64")
        #expect(layout.register(named: "gdtr_limit")?.bitSize == 32)
        // 16×8 + 8 + 4 + 6×4 + 8×10 + 8×4 + 16×16 + 4 + 2×8 (standard) + system + vmx.
        let standard = 16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 2 * 8
        let system = 15 * 8 + 2 * 4
        let vmx = 3 * 4 + 4 * 8
        #expect(layout.totalBytes == standard + system + vmx)
        #expect(layout.gPacketLength == 2 * layout.totalBytes)
        #expect(layout.gPacketLength < gdbMaxPacketSize)
    }

    @Test func vmxFeatureIsReadOnlyAndOthersAreNot() {
        for r in layout.registers {
            #expect(r.readOnly == (r.feature == "org.vmxemu.vmx"), "\(r.name)")
        }
    }

    @Test func gPacketRoundTrip() throws {
        var file = GDBRegisterFile()
        #expect(file.gPacket == String(repeating: "x", count: layout.gPacketLength))
        for r in layout.registers where r.regnum % 3 != 0 {
            file[r.regnum] = (0..<r.byteSize).map { UInt8(truncatingIfNeeded: r.regnum &* 7 &+ $0) }
        }
        file.set("rip", 0xffff_ffff_8100_0000)
        let g = file.gPacket
        #expect(g.count == layout.gPacketLength)
        let decoded = try #require(GDBRegisterFile.decode(gPacket: Array(g.utf8)))
        #expect(decoded == file)
        #expect(decoded.value("rip") == 0xffff_ffff_8100_0000)
        #expect(decoded.value("rax") == nil)  // regnum 0 was left unavailable
        // rip is little-endian at offset 16*8 bytes.
        let ripHex = g.dropFirst(16 * 16).prefix(16)
        #expect(ripHex == "00000081ffffffff")
    }

    @Test func gPacketRejectsBadInput() {
        let good = Array(GDBRegisterFile().gPacket.utf8)
        #expect(GDBRegisterFile.decode(gPacket: Array(good.dropLast(2))) == nil)
        var bad = good
        bad[0] = UInt8(ascii: "z")
        bad[1] = UInt8(ascii: "z")
        #expect(GDBRegisterFile.decode(gPacket: bad) == nil)
        // Half-x bytes are malformed.
        bad[0] = UInt8(ascii: "0")
        bad[1] = UInt8(ascii: "x")
        #expect(GDBRegisterFile.decode(gPacket: bad) == nil)
    }

    @Test func setAndValue() {
        var f = GDBRegisterFile()
        let known = f.set("cr0", 0x8000_0031)
        let unknown = f.set("nonesuch", 1)
        #expect(known && !unknown)
        #expect(f.value("cr0") == 0x8000_0031)
        #expect(f.hex(layout.regnum("cr0")!) == "3100008000000000")
        #expect(f.hex(layout.regnum("eflags")!) == "xxxxxxxx")
        f.markUnavailable("cr0")
        #expect(f.value("cr0") == nil)
        f[9999] = [1]  // out of range: ignored, no trap
        #expect(f[9999] == nil)
    }

    /// Parses target.xml with XMLParser, collecting features, registers and flag fields.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [String] = []
        var features: [String] = []
        var registers: [(feature: String, attrs: [String: String])] = []
        var flags: [String: [String]] = [:]
        var currentFlags: String?
        var text = ""
        var architecture = ""
        var osabi = ""
        var inElement = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            elements.append(name)
            inElement = name
            text = ""
            switch name {
            case "feature": features.append(attributes["name"] ?? "")
            case "reg": registers.append((features.last ?? "", attributes))
            case "flags": currentFlags = attributes["id"]; flags[attributes["id"] ?? ""] = []
            case "field": if let f = currentFlags { flags[f, default: []].append(attributes["name"] ?? "") }
            default: break
            }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "architecture" { architecture = text }
            if name == "osabi" { osabi = text }
            if name == "flags" { currentFlags = nil }
        }
    }

    @Test func targetXMLIsWellFormedAndListsEveryRegister() throws {
        let xml = layout.targetXML
        let parser = XMLParser(data: Data(xml.utf8))
        let c = Collector()
        parser.delegate = c
        #expect(parser.parse(), "XML error: \(String(describing: parser.parserError))")
        #expect(c.architecture == "i386:x86-64")
        #expect(c.osabi == "none")
        #expect(c.features == ["org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.segments",
                               "org.vmxemu.system", "org.vmxemu.vmx"])
        #expect(c.registers.count == layout.count)
        for (i, r) in c.registers.enumerated() {
            let reg = layout.registers[i]
            #expect(r.attrs["name"] == reg.name)
            #expect(r.attrs["bitsize"] == String(reg.bitSize))
            #expect(r.attrs["type"] == reg.type)
            #expect(r.attrs["regnum"] == String(reg.regnum))
            #expect(r.feature == reg.feature)
        }
        // Every type a register names is predefined by gdb or defined in the document.
        let predefined: Set<String> = ["int", "int8", "int16", "int32", "int64", "uint32", "uint64", "code_ptr",
                                       "data_ptr", "i387_ext", "uint128"]
        let defined = Set(c.flags.keys).union(["vec128"])
        for r in c.registers {
            let t = r.attrs["type"] ?? ""
            #expect(predefined.contains(t) || defined.contains(t), "type \(t)")
        }
        #expect(c.flags["vmxemu_cr0"]?.contains("PG") == true)
        #expect(c.flags["vmxemu_efer"] == ["SCE", "LME", "LMA", "NXE"])
        #expect(c.flags["vmxemu_cr4"]?.contains("VMXE") == true)
        #expect(c.flags["i386_eflags"]?.contains("ZF") == true)
    }

    @Test func flagFieldsDecodeGDBsExamples() {
        // What gdb will print: cr0 0x80000031 [ PE ET NE PG ], efer 0xd01 [ SCE LME LMA NXE ].
        func setBits(_ id: String, _ value: UInt64) -> [String] {
            let t = layout.features.flatMap(\.flags).first { $0.id == id }
            return t?.fields.filter { value >> UInt64($0.bit) & 1 == 1 && !$0.name.isEmpty }.map(\.name) ?? []
        }
        #expect(setBits("vmxemu_cr0", 0x8000_0031) == ["PE", "ET", "NE", "PG"])
        #expect(setBits("vmxemu_efer", 0xd01) == ["SCE", "LME", "LMA", "NXE"])
        #expect(setBits("vmxemu_cr4", 0x20a0) == ["PAE", "PGE", "VMXE"])
    }
}
