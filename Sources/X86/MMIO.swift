/// Memory-mapped I/O: devices that decode ranges of physical addresses (the local APIC at
/// 0xFEE00000 and relocatable through IA32_APIC_BASE, the I/O APIC at 0xFEC00000, the HPET at
/// 0xFED00000 are the ones the next issues plug in).
///
/// The seam is on the slow path only. A page that holds any part of a device region never enters
/// the read/write tables of the software TLB (`fill`), so every access to it reaches `readPhys` /
/// `writePhys`, which ask the region table first — before RAM, because a relocated APIC page
/// hides the RAM under it for the CPU's accesses (SDM Vol. 3A §10.4.5 "Relocating the Local APIC
/// Registers"). Mapping or unmapping a region flushes the TLB and the decoded blocks, so no stale
/// translation bypasses the table. Instruction fetch from a device page stops the machine with a
/// report (executing device registers is not modeled). The debugger's reads stop at a device page
/// (reading a device register can have side effects).

/// A device on the physical address bus. Calls come from the CPU thread, one per access (or one
/// per byte for an access that only partly overlaps the region), never on the hot path.
public protocol MMIODevice: AnyObject {
    /// Read `size` (1, 2, 4 or 8) bytes at `offset` from the start of the region, little-endian.
    func mmioRead(offset: UInt64, size: Int) -> UInt64
    /// Write the low `size` bytes of `value` at `offset` from the start of the region.
    func mmioWrite(offset: UInt64, size: Int, value: UInt64)
}

/// One mapped range of physical addresses.
public struct MMIORegion {
    public let base: UInt64
    public let size: UInt64
    public let device: any MMIODevice
    @inline(__always) func contains(_ pa: UInt64) -> Bool { pa >= base && pa - base < size }
    /// Does the region overlap the 4 KiB page at `page`?
    @inline(__always) func touches(page: UInt64) -> Bool { base < page &+ 0x1000 && page < base &+ size }
}

extension CPU {
    /// Map `device` at physical `[base, base+size)`. A region may overlap RAM (it then hides it
    /// from the CPU); regions must not overlap each other. Returns false if they would, or if the
    /// range is empty or wraps.
    @discardableResult
    public func mapMMIO(_ device: any MMIODevice, base: UInt64, size: UInt64) -> Bool {
        guard size > 0, base &+ size > base,
              !mmioRegions.contains(where: { base < $0.base &+ $0.size && $0.base < base &+ size }) else { return false }
        mmioRegions.append(MMIORegion(base: base, size: size, device: device))
        flushDecodedBlocks()
        return true
    }

    /// Remove every region of `device` (before mapping it elsewhere: an APIC base relocation).
    public func unmapMMIO(_ device: any MMIODevice) {
        mmioRegions.removeAll { $0.device === device }
        flushDecodedBlocks()
    }

    /// The region decoding physical address `pa`, if any.
    @inline(__always) func mmioRegion(_ pa: UInt64) -> MMIORegion? {
        if mmioRegions.isEmpty { return nil }
        return mmioRegionSlow(pa)
    }

    @inline(never) func mmioRegionSlow(_ pa: UInt64) -> MMIORegion? {
        for r in mmioRegions where r.contains(pa) { return r }
        return nil
    }

    /// True if some device decodes part of the 4 KiB physical page at `page`.
    @inline(__always) func mmioTouches(page: UInt64) -> Bool {
        !mmioRegions.isEmpty && mmioRegions.contains { $0.touches(page: page) }
    }

    /// An access of `n` bytes at `pa` that overlaps a device: the whole access goes to the device
    /// when it lies inside one region, else byte by byte (each byte to its device, RAM, the ROM or
    /// nothing). Returns nil when no device is involved.
    @inline(never) func mmioRead(_ pa: UInt64, _ n: UInt64) -> UInt64? {
        guard let r = mmioRegion(pa) ?? mmioRegion(pa &+ n &- 1) else { return nil }
        if r.contains(pa) && r.contains(pa &+ n &- 1) {
            return r.device.mmioRead(offset: pa - r.base, size: Int(n))
        }
        var v: UInt64 = 0
        for k in 0..<n {
            let a = pa &+ k
            let b: UInt64
            if let d = mmioRegion(a) { b = d.device.mmioRead(offset: a - d.base, size: 1) & 0xFF }
            else { b = a < ramSize ? UInt64((ram + Int(a)).load(as: UInt8.self)) : UInt64(memory.unbackedByte(a)) }
            v |= b << (8 * k)
        }
        return v
    }

    /// The write counterpart of `mmioRead`; false when no device is involved.
    @inline(never) func mmioWrite(_ pa: UInt64, _ n: UInt64, _ v: UInt64) -> Bool {
        guard let r = mmioRegion(pa) ?? mmioRegion(pa &+ n &- 1) else { return false }
        if r.contains(pa) && r.contains(pa &+ n &- 1) {
            r.device.mmioWrite(offset: pa - r.base, size: Int(n), value: v)
            return true
        }
        for k in 0..<n {
            let a = pa &+ k
            let b = (v >> (8 * k)) & 0xFF
            if let d = mmioRegion(a) { d.device.mmioWrite(offset: a - d.base, size: 1, value: b) }
            else if a < ramSize { notePhysWrite(a); (ram + Int(a)).storeBytes(of: UInt8(b), as: UInt8.self) }
        }
        return true
    }
}
