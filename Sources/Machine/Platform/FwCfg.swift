// QEMU's firmware configuration device (fw_cfg) on I/O ports 0x510 (selector) and 0x511 (data).
//
// Followed: QEMU's "QEMU Firmware Configuration (fw_cfg) Device" specification (docs/specs/fw_cfg.rst,
// QEMU 7.2): the traditional interface only (FW_CFG_ID bit 0; no DMA, bit 1 = 0); a 16-bit
// little-endian selector write resets the data offset; each data read returns the next byte and 0
// past the end; items FW_CFG_SIGNATURE (0x00, "QEMU"), FW_CFG_ID (0x01), FW_CFG_RAM_SIZE (0x03,
// 64-bit LE), FW_CFG_NOGRAPHIC (0x04), FW_CFG_NB_CPUS (0x05, 16-bit), FW_CFG_MAX_CPUS (0x0F),
// FW_CFG_FILE_DIR (0x19: a big-endian count, then {size BE32, select BE16, reserved, name[56]}),
// files from 0x20. Bare-metal test kernels read their CPU count and memory size here.
//
// Files: "etc/e820" (entries {address, length, type} little-endian, as QEMU's), and the ACPI tables
// as vmxemu placed them in guest RAM ("etc/acpi/rsdp", "etc/acpi/tables": absolute addresses
// already filled in, so there is no "etc/table-loader" script — a firmware that needs one builds
// its own tables).

public final class FwCfg: PortDevice {
    public let name = "fw_cfg"
    public let ports: ClosedRange<UInt16> = 0x510...0x511
    public var takesWideAccesses: Bool { true }
    var items: [UInt16: [UInt8]] = [:]
    var files: [(name: String, key: UInt16)] = []
    var selector: UInt16 = 0
    var offset = 0

    public init(ramBytes: UInt64, cpus: Int) {
        items[0x00] = Array("QEMU".utf8)
        items[0x01] = le32(1)
        items[0x03] = le64(ramBytes)
        items[0x04] = le16(1)
        items[0x05] = le16(UInt16(cpus))
        items[0x0F] = le16(UInt16(cpus))
        rebuildDirectory()
    }

    /// Adds a named file (selectors from 0x20 in the order added).
    public func addFile(_ name: String, _ bytes: [UInt8]) {
        let key = UInt16(0x20 + files.count)
        files.append((name, key))
        items[key] = bytes
        rebuildDirectory()
    }

    /// The e820 map as QEMU's "etc/e820".
    public func setE820(_ entries: [(base: UInt64, length: UInt64, type: UInt32)]) {
        addFile("etc/e820", entries.flatMap { le64($0.base) + le64($0.length) + le32($0.type) })
    }

    func rebuildDirectory() {
        func be32(_ v: UInt32) -> [UInt8] { le32(v).reversed() }
        func be16(_ v: UInt16) -> [UInt8] { le16(v).reversed() }
        var dir = be32(UInt32(files.count))
        for f in files {
            var name = Array(f.name.utf8.prefix(55))
            name += [UInt8](repeating: 0, count: 56 - name.count)
            dir += be32(UInt32(items[f.key]?.count ?? 0)) + be16(f.key) + [0, 0] + name
        }
        items[0x19] = dir
    }

    public func read(port: UInt16, size: Int) -> UInt32 {
        guard port == 0x511 else { return 0 }  // the selector register is write-only
        var v: UInt32 = 0
        let item = items[selector] ?? []
        for i in 0..<max(1, min(size, 4)) {
            let b: UInt8 = offset < item.count ? item[offset] : 0
            if offset < item.count { offset += 1 }
            v |= UInt32(b) << (8 * UInt32(i))
        }
        return v
    }

    public func write(port: UInt16, size: Int, value: UInt32) {
        guard port == 0x510 else { return }  // data writes are not supported (spec: ignored)
        selector = UInt16(truncatingIfNeeded: value)
        offset = 0
    }

    /// For the debugger: the file directory.
    public var listing: [(key: UInt16, name: String, size: Int)] {
        files.map { ($0.key, $0.name, items[$0.key]?.count ?? 0) }
    }
}
