import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole file; tensors borrowed from it keep it alive.
/// (A small local reader: ModelIO's readers were not committed when this module was written.)
final class MappedFile {
    let path: String
    let base: UnsafeRawPointer
    let count: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelError.invalidFile(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelError.invalidFile(file: path, "cannot stat: \(String(cString: strerror(errno)))") }
        count = Int(st.st_size)
        guard count > 0 else { throw ModelError.invalidFile(file: path, "the file is empty") }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelError.invalidFile(file: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// Bounds-checked little-endian reads over a mapped file.
struct ByteReader {
    let file: MappedFile
    var offset: Int = 0

    init(_ file: MappedFile) { self.file = file }

    mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, offset <= file.count - n else {
            throw ModelError.invalidFile(file: file.path, "truncated: \(what) needs \(n) bytes at offset \(offset), file has \(file.count)")
        }
    }
    mutating func read<T: FixedWidthInteger>(_ t: T.Type, _ what: String) throws -> T {
        try need(MemoryLayout<T>.size, what)
        let v = T(littleEndian: file.base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }
    mutating func readFloat(_ what: String) throws -> Float { Float(bitPattern: try read(UInt32.self, what)) }
    mutating func readDouble(_ what: String) throws -> Double { Double(bitPattern: try read(UInt64.self, what)) }
    mutating func readBytes(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        try need(n, what)
        defer { offset += n }
        return UnsafeRawBufferPointer(start: file.base + offset, count: n)
    }
}
