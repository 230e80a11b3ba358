import Tensors

/// One tensor of a safetensors file: its description and a zero-copy view of its bytes.
/// The view stays valid as long as this value (or its file) is alive: it holds the file's bytes.
public struct SafeTensor: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    /// Row-major shape, as in PyTorch.
    public let shape: [Int]
    /// Byte range inside the file's data section (the header's `data_offsets`).
    public let dataOffsets: Range<Int>
    /// The raw little-endian bytes, pointing into the mapping.
    public let bytes: UnsafeRawBufferPointer
    /// The file's bytes, kept alive for `bytes`.
    public let storage: ModelBytes

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { bytes.count }
    /// Name of the file it came from.
    public var file: String { storage.name }

    /// A typed zero-copy view. Throws if `T` does not match the dtype or the data is not aligned for `T`.
    public func view<T: TensorElement>(as type: T.Type) throws -> UnsafeBufferPointer<T> {
        guard T.matchingDTypes.contains(dtype) else {
            throw ModelIOError(.typeMismatch, file: file, item: name, "tensor is \(dtype.safetensorsName), not viewable as \(T.self)",
                               fix: "view it as one of the types matching \(dtype.safetensorsName), or convert with floats()")
        }
        guard let base = bytes.baseAddress else { return UnsafeBufferPointer(start: nil, count: 0) }
        guard Int(bitPattern: base) % MemoryLayout<T>.alignment == 0 else {
            throw ModelIOError(.unsupported, file: file, item: name, "data is not \(MemoryLayout<T>.alignment)-byte aligned for a zero-copy \(T.self) view",
                               fix: "use floats() or copy the bytes; rewriting the file with SafeTensorsWriter aligns every tensor")
        }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: T.self), count: bytes.count / MemoryLayout<T>.stride)
    }

    /// All elements converted to Float (exact for every float dtype; integers by value; bool as 0/1).
    public func floats() -> [Float] {
        let n = elementCount
        return [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            DTypeConversion.toFloat(dtype, source: bytes, into: buf)
            initialized = n
        }
    }

    /// Converts all elements into a caller's buffer of at least `elementCount` floats.
    public func convert(into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard destination.count >= elementCount else {
            throw ModelIOError(.invalidTensor, file: file, item: name, "destination holds \(destination.count) floats, tensor has \(elementCount)",
                               fix: "pass a buffer of elementCount floats")
        }
        DTypeConversion.toFloat(dtype, source: bytes, into: destination)
    }
}
