import Foundation

/// A reference-counted block of tensor bytes: either owned (allocated and freed here) or borrowed
/// from memory someone else keeps alive (an mmap'd safetensors/GGUF region), in which case `owner`
/// is retained for as long as any tensor views this storage.
public final class TensorStorage: @unchecked Sendable {
    /// First byte of the block.
    public let base: UnsafeMutableRawPointer
    /// Size of the block in bytes.
    public let byteCount: Int
    /// Keeps borrowed memory alive; nil when this storage owns (and frees) its bytes.
    public let owner: AnyObject?

    /// Allocates `byteCount` zeroed bytes, 64-byte aligned (SIMD and BLAS friendly).
    public init(zeroedByteCount byteCount: Int) {
        var p: UnsafeMutableRawPointer? = nil
        let n = max(byteCount, 64)
        // An allocation failure here is out-of-memory, not bad input: sizes are validated by callers.
        guard posix_memalign(&p, 64, n) == 0, let ptr = p else {
            fatalError("Tensors: out of memory allocating \(byteCount) bytes")
        }
        memset(ptr, 0, n)
        base = ptr
        self.byteCount = byteCount
        owner = nil
    }

    /// Allocates `byteCount` uninitialised bytes (for outputs that are fully overwritten).
    init(uninitializedByteCount byteCount: Int) {
        var p: UnsafeMutableRawPointer? = nil
        let n = max(byteCount, 64)
        guard posix_memalign(&p, 64, n) == 0, let ptr = p else {
            fatalError("Tensors: out of memory allocating \(byteCount) bytes")
        }
        base = ptr
        self.byteCount = byteCount
        owner = nil
    }

    /// Wraps memory owned by `owner` without copying.
    public init(borrowing base: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.base = base
        self.byteCount = byteCount
        self.owner = owner
    }

    deinit { if owner == nil { free(base) } }
}

/// Errors raised for bad tensor data (values or sizes that come from files or users).
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// A shape/size problem: what was found and what was expected.
    case invalidShape(String)
    /// An index value (token id, gather index, target) outside its valid range.
    case indexOutOfRange(String)
    /// A dtype an operation does not accept.
    case unsupportedDType(String)

    public var description: String {
        switch self {
        case .invalidShape(let s): return "invalid tensor shape: \(s)"
        case .indexOutOfRange(let s): return "index out of range: \(s)"
        case .unsupportedDType(let s): return "unsupported dtype: \(s)"
        }
    }
}
