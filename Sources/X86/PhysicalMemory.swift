#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Guest physical RAM: one host mapping, addressed from physical address 0.
///
/// The CPU reaches it through `base` on its hot path; everything else (loaders, the debugger)
/// goes through the checked accessors here, which never touch memory outside the allocation.
/// Physical addresses beyond `size` are "unbacked": reads give all-ones and writes are dropped,
/// as on a PC with nothing decoding that address.
///
/// The RAM is reserved, not committed: a private anonymous mapping with MAP_NORESERVE, whose
/// pages the host kernel supplies (zero-filled) when the guest first touches them. A guest that
/// uses 2 MiB of a 4 GiB machine costs the host about 2 MiB.
public final class PhysicalMemory: @unchecked Sendable {
    /// Start of the host mapping. Stable for the object's lifetime.
    public let base: UnsafeMutableRawPointer
    /// Bytes of RAM (a multiple of 4 KiB).
    public let size: UInt64
    /// Bytes mapped at `base` (`size`, or one page for an empty RAM).
    private let mappedBytes: Int

    /// Reserves `size` bytes (rounded up to 4 KiB) of zeroed RAM, or nil when the host refuses the
    /// mapping (the size does not fit the address space, or mmap(2) fails: `errno` says why).
    public init?(reserving size: UInt64) {
        guard size <= UInt64(Int.max) - 0xFFF else { errno = ENOMEM; return nil }
        let rounded = (size + 0xFFF) & ~UInt64(0xFFF)
        let bytes = max(Int(rounded), 0x1000)
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        self.size = rounded
        self.base = p
        self.mappedBytes = bytes
    }

    /// Reserves `size` bytes; traps if the host cannot. For fixed, small sizes (tests, scratch
    /// machines); a size the user chose goes through `init?(reserving:)`.
    public convenience init(size: UInt64) {
        self.init(reserving: size)!
    }

    deinit { munmap(base, mappedBytes); rom?.deallocate() }

    // MARK: Firmware ROM

    /// A read-only firmware image mapped so that it ends at 4 GiB (where the reset vector
    /// 0xFFFFFFF0 fetches from, SDM Vol. 3A §9.1.4 "First Instruction Executed").
    public private(set) var rom: UnsafeMutableRawPointer? = nil
    public private(set) var romBase: UInt64 = 0
    public private(set) var romSize: UInt64 = 0
    /// The largest firmware image: 16 MiB.
    public static let romLimit = 16 << 20

    /// Map `image` at `4 GiB − size` (size rounded up to 4 KiB, the image at the top) and copy
    /// its last 128 KiB (or all of it, if smaller) to just below 1 MiB as a writable shadow, as a
    /// PC's chipset aliases the BIOS there. Returns false if the image is empty or over `romLimit`.
    @discardableResult
    public func mapROM(_ image: [UInt8]) -> Bool {
        guard !image.isEmpty, image.count <= Self.romLimit else { return false }
        rom?.deallocate()
        let size = (UInt64(image.count) + 0xFFF) & ~UInt64(0xFFF)
        let p = UnsafeMutableRawPointer.allocate(byteCount: Int(size), alignment: 4096)
        p.initializeMemory(as: UInt8.self, repeating: 0xFF, count: Int(size))
        image.withUnsafeBytes { (p + Int(size) - image.count).copyMemory(from: $0.baseAddress!, byteCount: image.count) }
        rom = p; romSize = size; romBase = (1 << 32) - size
        let shadow = min(image.count, 128 << 10)
        write(Array(image[(image.count - shadow)...]), at: 0x10_0000 - UInt64(shadow))
        return true
    }

    /// A byte at a physical address outside RAM: the ROM's, or all-ones where nothing decodes it.
    @inline(never)
    public func unbackedByte(_ address: UInt64) -> UInt8 {
        if let rom, address >= romBase, address - romBase < romSize {
            return rom.load(fromByteOffset: Int(address - romBase), as: UInt8.self)
        }
        return 0xFF
    }

    /// True when `[address, address+count)` lies wholly inside RAM.
    @inline(__always)
    public func contains(_ address: UInt64, count: UInt64) -> Bool {
        address <= size && count <= size - address
    }

    /// Copies `bytes` to `address`. Returns false (and writes nothing) if any byte would fall outside RAM.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer, at address: UInt64) -> Bool {
        guard contains(address, count: UInt64(bytes.count)) else { return false }
        if let src = bytes.baseAddress, bytes.count > 0 {
            (base + Int(address)).copyMemory(from: src, byteCount: bytes.count)
        }
        return true
    }

    @discardableResult
    public func write(_ bytes: [UInt8], at address: UInt64) -> Bool {
        bytes.withUnsafeBytes { write($0, at: address) }
    }

    /// Fills `[address, address+count)` with zero. Returns false if the range is not wholly in RAM.
    @discardableResult
    public func zero(at address: UInt64, count: UInt64) -> Bool {
        guard contains(address, count: count) else { return false }
        (base + Int(address)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(count))
        return true
    }

    /// Reads `count` bytes; bytes outside RAM read from the ROM or as 0xFF (unbacked).
    public func read(at address: UInt64, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xFF, count: count)
        for i in 0..<count {
            let a = address &+ UInt64(i)
            out[i] = a < size ? base.load(fromByteOffset: Int(a), as: UInt8.self) : unbackedByte(a)
        }
        return out
    }

    public func read32(at address: UInt64) -> UInt32 {
        guard contains(address, count: 4) else { return 0xFFFF_FFFF }
        return base.loadUnaligned(fromByteOffset: Int(address), as: UInt32.self)
    }

    public func read64(at address: UInt64) -> UInt64 {
        guard contains(address, count: 8) else { return ~0 }
        return base.loadUnaligned(fromByteOffset: Int(address), as: UInt64.self)
    }

    @discardableResult
    public func write32(_ value: UInt32, at address: UInt64) -> Bool {
        guard contains(address, count: 4) else { return false }
        base.storeBytes(of: value, toByteOffset: Int(address), as: UInt32.self)
        return true
    }

    @discardableResult
    public func write64(_ value: UInt64, at address: UInt64) -> Bool {
        guard contains(address, count: 8) else { return false }
        base.storeBytes(of: value, toByteOffset: Int(address), as: UInt64.self)
        return true
    }
}

/// The I/O-port side of the machine as the CPU sees it (IN/OUT/INS/OUTS).
/// Not on the hot path: one call per port access.
public protocol PortIO: AnyObject {
    /// `size` is 1, 2 or 4. Ports nobody decodes read all-ones.
    func portRead(_ port: UInt16, size: Int) -> UInt32
    func portWrite(_ port: UInt16, size: Int, value: UInt32)
    /// True once a device wants the run to end (e.g. the debug-exit port was written).
    /// The CPU checks it after every OUT/OUTS and returns from `run` when it is set.
    var stopRequested: Bool { get }
}
