// Reading the files a user names on the command line (kernel image, boot modules, firmware) without
// letting a hostile path cost the host anything: only regular files are read, and their size is
// checked against a limit before a single byte is read. `/dev/zero`, a FIFO, a terminal or a
// directory is refused at once (a FIFO is opened non-blocking, so opening it cannot wait for a
// writer); a file larger than the limit is refused from its `fstat` size, not after reading it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a host file could not be read. `description` is one line (the caller prefixes the path).
public enum HostFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// open(2) or fstat(2) failed: the `strerror` text.
    case cannotOpen(reason: String)
    /// Not a regular file: what it is instead ("a directory", "a character device", …).
    case notRegularFile(kind: String)
    /// The file has more bytes than the caller accepts.
    case tooLarge(size: UInt64, limit: UInt64, why: String)
    /// read(2) failed part-way: the `strerror` text.
    case readFailed(reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(reason): return reason
        case let .notRegularFile(kind): return "not a regular file (it is \(kind))"
        case let .tooLarge(size, limit, why):
            return "the file has \(size) bytes (\(HostMemory.describe(size))), more than \(why) (\(HostMemory.describe(limit)))"
        case let .readFailed(reason): return "read failed: \(reason)"
        }
    }
}

/// How much guest RAM this host can give a machine.
///
/// Guest RAM is reserved without committing it (`PhysicalMemory(reserving:)`), so the host kernel
/// would accept a mapping larger than its memory; a guest that then touched it all would be killed
/// by the out-of-memory killer mid-run. vmxemu refuses such sizes up front instead: the limit is
/// the host's physical RAM, and never more than 64 GiB.
public enum HostMemory {
    /// The largest `-m` on any host.
    public static let cap: UInt64 = 64 << 30

    /// The host's physical RAM in bytes (sysconf `_SC_PHYS_PAGES` × page size), or nil if unknown.
    public static var physicalBytes: UInt64? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), page = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, page > 0 else { return nil }
        return UInt64(pages).multipliedReportingOverflow(by: UInt64(page)).partialValue
    }

    /// The largest guest RAM a machine may have here: min(physical RAM, `cap`).
    public static var guestRAMLimit: UInt64 { min(physicalBytes ?? cap, cap) }

    /// "23.4 GiB", "512 MiB": a size for messages, one decimal when not whole.
    public static func describe(_ bytes: UInt64) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << UInt64(shift) {
            let whole = bytes >> UInt64(shift)
            let tenths = ((bytes - (whole << UInt64(shift))) * 10) >> UInt64(shift)
            return tenths == 0 ? "\(whole) \(unit)" : "\(whole).\(tenths) \(unit)"
        }
        return "\(bytes) bytes"
    }
}

public enum HostFile {
    /// The largest kernel image `vmxemu run` reads: 1 GiB. An ELF file may be larger than the
    /// guest's RAM (debugging sections are not loaded), so the image is not held to the RAM size;
    /// what it loads is, by the loader.
    public static let imageLimit: UInt64 = 1 << 30

    /// Reads the whole regular file at `path` if it has at most `limit` bytes. `why` names the
    /// limit for the message ("the 1 GiB image limit", "guest RAM").
    ///
    /// Reads at most the size `fstat` reported (a file growing meanwhile is cut there).
    public static func read(_ path: String, limit: UInt64, why: String) throws(HostFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .cannotOpen(reason: String(cString: strerror(errno))) }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else { throw .notRegularFile(kind: kindName(type)) }
        let size = UInt64(max(st.st_size, 0))
        guard size <= limit else { throw .tooLarge(size: size, limit: limit, why: why) }
        var out = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + done, $0.count - done) }
            if n > 0 { done += n; continue }
            if n == 0 { break }  // the file shrank since fstat
            if errno == EINTR { continue }
            throw .readFailed(reason: String(cString: strerror(errno)))
        }
        if done < out.count { out.removeLast(out.count - done) }
        return out
    }

    private static func kindName(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }
}

/// read(2), named apart from `HostFile.read`.
private func systemRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, p, n) }
