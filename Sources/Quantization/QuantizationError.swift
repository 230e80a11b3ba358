/// Errors of the GGML block (de)quantisers: what was given, what was expected, and what to do.
public enum QuantizationError: Error, CustomStringConvertible, Equatable {
    /// The type has no dequantiser here (IQ*, TQ*, ... formats).
    case unsupportedType(GGMLType, operation: String)
    /// A byte count that is not a whole number of blocks.
    case partialBlock(type: GGMLType, byteCount: Int)
    /// An element count that is not a whole number of blocks.
    case partialBlockElements(type: GGMLType, elementCount: Int)
    /// The destination buffer does not have room for the output.
    case destinationTooSmall(needed: Int, available: Int)
    /// Tensor data that is not a whole number of rows.
    case partialRow(type: GGMLType, byteCount: Int, rowBytes: Int)
    /// A row range outside the tensor.
    case rowsOutOfRange(rows: Range<Int>, rowCount: Int)

    public var description: String {
        switch self {
        case let .unsupportedType(type, operation):
            return "GGML type \(type.name) is not supported for \(operation); supported types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (re-quantise the model to one of them)"
        case let .partialBlock(type, byteCount):
            return "\(byteCount) bytes of \(type.name) data is not a whole number of \(type.typeSize)-byte blocks (the tensor data is truncated or its type is wrong)"
        case let .partialBlockElements(type, elementCount):
            return "\(elementCount) values is not a whole number of \(type.name) blocks of \(type.blockSize) (rows must be a multiple of the block size)"
        case let .destinationTooSmall(needed, available):
            return "destination holds \(available) floats but \(needed) are needed (allocate a buffer of the tensor's element count)"
        case let .partialRow(type, byteCount, rowBytes):
            return "\(byteCount) bytes of \(type.name) data is not a whole number of \(rowBytes)-byte rows (check the row length: it is the tensor's innermost dimension)"
        case let .rowsOutOfRange(rows, rowCount):
            return "rows \(rows.lowerBound)..<\(rows.upperBound) are outside the tensor's \(rowCount) rows"
        }
    }
}
