// Read-only host files for `vFile` (gdb's Host I/O): how gdb reads a context's ELF after
// `qXfer:exec-file:read` names it. Only the paths the target itself names as exec files are
// served — the stub never becomes a general file server on its TCP port.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// errno values of gdb's File-I/O protocol (not the host's).
enum FileIOErrno: Int, Error {
    case enoent = 2
    case ebadf = 9
    case eacces = 13
    case eisdir = 21
    case einval = 22
    case emfile = 24
    case efbig = 27
    case unknown = 9999
}

enum HostFile {
    /// Largest file served (ELF images with debug info; larger is refused with EFBIG).
    static let maxSize = 512 << 20

    /// The whole file's contents.
    static func contents(of path: String) -> Result<[UInt8], FileIOErrno> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return .failure(map(errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(map(errno)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.eisdir) }
        guard st.st_size >= 0, Int(st.st_size) <= maxSize else { return .failure(.efbig) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buf -> Int in
                guard let base = buf.baseAddress else { return -1 }
                return read(fd, base + done, buf.count - done)
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return .success(Array(bytes.prefix(done)))
    }

    /// gdb's `struct stat` for a read-only regular file of `size` bytes (64 bytes, big-endian).
    static func statBytes(size: Int) -> [UInt8] {
        func be(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        var s: [UInt8] = []
        s += be(0, 4)  // st_dev
        s += be(0, 4)  // st_ino
        s += be(0o100444, 4)  // st_mode: regular, r--r--r--
        s += be(1, 4)  // st_nlink
        s += be(0, 4) + be(0, 4) + be(0, 4)  // st_uid, st_gid, st_rdev
        s += be(UInt64(size), 8)  // st_size
        s += be(4096, 8)  // st_blksize
        s += be(UInt64((size + 511) / 512), 8)  // st_blocks
        s += be(0, 4) + be(0, 4) + be(0, 4)  // st_atime, st_mtime, st_ctime
        return s
    }

    private static func map(_ e: Int32) -> FileIOErrno {
        switch e {
        case ENOENT, ENOTDIR: return .enoent
        case EACCES, EPERM: return .eacces
        case EISDIR: return .eisdir
        case EMFILE, ENFILE: return .emfile
        default: return .unknown
        }
    }
}
