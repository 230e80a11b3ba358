import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file atomically: into a temporary file beside the target, flushed to disk, then renamed over it,
/// so readers see either the old file or the complete new one, never a partial write.
enum AtomicFile {
    /// Streams the file through `body`, which calls the given `write` closure with consecutive chunks.
    static func write(to path: String, _ body: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let temp = "\(dir)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw ModelIOError(.io, file: path, "cannot create a temporary file in \(dir) (\(String(cString: strerror(errno))))",
                               fix: "check that the folder exists and is writable")
        }
        var closed = false
        do {
            try body { chunk in
                guard var p = chunk.baseAddress else { return }
                var left = chunk.count
                while left > 0 {
                    let n = posixWrite(fd, p, left)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ModelIOError(.io, file: path, "write failed (\(String(cString: strerror(errno))))", fix: "check free disk space")
                    }
                    p += n
                    left -= n
                }
            }
            guard fsync(fd) == 0 else {
                throw ModelIOError(.io, file: path, "fsync failed (\(String(cString: strerror(errno))))", fix: "check the disk")
            }
            closed = true
            guard close(fd) == 0 else {
                throw ModelIOError(.io, file: path, "close failed (\(String(cString: strerror(errno))))", fix: "check the disk")
            }
            guard rename(temp, path) == 0 else {
                throw ModelIOError(.io, file: path, "cannot rename the temporary file into place (\(String(cString: strerror(errno))))",
                                   fix: "check permissions on the folder")
            }
        } catch {
            if !closed { close(fd) }
            unlink(temp)
            throw error
        }
    }

    /// Writes `bytes` atomically.
    static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { write in try bytes.withUnsafeBytes { try write($0) } }
    }
}

@inline(__always) private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
