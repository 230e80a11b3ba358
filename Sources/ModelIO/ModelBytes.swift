import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a model file: a read-only memory mapping of the file, or an in-memory copy.
/// Tensor views point into it, and each view holds a reference, so the bytes live as long as any view.
public final class ModelBytes: @unchecked Sendable {
    /// All the bytes. Immutable for the lifetime of the object.
    public let buffer: UnsafeRawBufferPointer
    /// The file path, or the display name given for an in-memory buffer.
    public let name: String
    private let isMapped: Bool

    /// Maps `path` read-only. Pages are loaded lazily by the OS as tensors are touched.
    public init(mapping path: String) throws {
        name = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw ModelIOError(.io, file: path, "cannot open the file (\(reason))", fix: "check that the path exists and is readable")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelIOError(.io, file: path, "cannot stat the file (\(String(cString: strerror(errno))))", fix: "check the file system")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelIOError(.io, file: path, "not a regular file", fix: "pass a model file (or, where accepted, a model folder)")
        }
        let size = Int(info.st_size)
        if size == 0 {
            // mmap rejects empty mappings; an empty buffer lets the parsers report the truncation.
            buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw ModelIOError(.io, file: path, "cannot map \(size) bytes (\(String(cString: strerror(errno))))", fix: "check free address space and the file system")
        }
        buffer = UnsafeRawBufferPointer(start: p, count: size)
        isMapped = true
    }

    /// Copies `bytes` into 64-byte-aligned memory (so typed views work as on a mapping); `name` is used in errors.
    public init<C: Collection>(copying bytes: C, name: String) where C.Element == UInt8 {
        self.name = name
        let count = bytes.count
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        let dst = UnsafeMutableRawBufferPointer(start: p, count: count)
        dst.copyBytes(from: bytes)
        buffer = UnsafeRawBufferPointer(start: p, count: count)
        isMapped = false
    }

    public var count: Int { buffer.count }

    /// Drops the mapped pages wholly inside `range` from the process's resident memory, for bytes that were
    /// copied out (a loader that keeps weights in its own buffers would otherwise hold them twice until the
    /// file is closed). The bytes stay readable: touched again, they come back from the file. Does nothing
    /// for an in-memory copy or on systems without `madvise(MADV_DONTNEED)`.
    public func releasePages(_ range: Range<Int>) {
        #if os(Linux)
        guard isMapped, let base = buffer.baseAddress, !range.isEmpty, range.upperBound <= buffer.count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Int(bitPattern: base) + range.lowerBound + page - 1) / page * page
        let hi = (Int(bitPattern: base) + range.upperBound) / page * page
        guard hi > lo, let start = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(start, hi - lo, MADV_DONTNEED)
        #endif
    }

    /// The bytes at `range` (already validated by the parser).
    @inlinable public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard let base = buffer.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    deinit {
        guard let base = buffer.baseAddress else { return }
        if isMapped { munmap(UnsafeMutableRawPointer(mutating: base), buffer.count) } else { base.deallocate() }
    }
}
