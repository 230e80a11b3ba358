/// The tensor element types of GGML / GGUF files, with the ids `ggml.h` and the `gguf` Python package use.
///
/// Quantized types store a row as consecutive blocks: `blockSize` values packed into `typeSize` bytes.
public enum GGMLType: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// Super-block size of the K-quants (`QK_K`).
    public static let qkK = 256

    /// Values per block (1 for plain types).
    public var blockSize: Int { GGMLType.sizes[Int(rawValue)].block }

    /// Bytes per block.
    public var typeSize: Int { GGMLType.sizes[Int(rawValue)].bytes }

    /// The name `gguf` and llama.cpp print (`Q4_K`, `F32`, ...).
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_xxs: return "IQ2_XXS"
        case .iq2_xs: return "IQ2_XS"
        case .iq3_xxs: return "IQ3_XXS"
        case .iq1_s: return "IQ1_S"
        case .iq4_nl: return "IQ4_NL"
        case .iq3_s: return "IQ3_S"
        case .iq2_s: return "IQ2_S"
        case .iq4_xs: return "IQ4_XS"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .f64: return "F64"
        case .iq1_m: return "IQ1_M"
        case .bf16: return "BF16"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        case .nvfp4: return "NVFP4"
        case .q1_0: return "Q1_0"
        }
    }

    public var description: String { name }

    /// Parses a name as printed by `name` (case-insensitive).
    public init?(name: String) {
        let upper = name.uppercased()
        guard let match = GGMLType.allCases.first(where: { $0.name == upper }) else { return nil }
        self = match
    }

    /// Whether `GGMLDequantizer` can turn this type into floats.
    public var canDequantize: Bool {
        switch self {
        case .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }

    /// Whether the type is a block-quantized format (as opposed to a plain float or integer type).
    public var isQuantized: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return false
        default: return true
        }
    }

    /// Bytes taken by `elements` values, or nil when `elements` is not a whole number of blocks or overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }

    /// Block size and bytes per block, indexed by raw value (the table of `GGML_QUANT_SIZES`).
    private static let sizes: [(block: Int, bytes: Int)] = {
        var t = [(block: Int, bytes: Int)](repeating: (1, 0), count: 42)
        let k = qkK
        t[0] = (1, 4); t[1] = (1, 2)
        t[2] = (32, 2 + 16); t[3] = (32, 2 + 2 + 16); t[6] = (32, 2 + 4 + 16); t[7] = (32, 2 + 2 + 4 + 16)
        t[8] = (32, 2 + 32); t[9] = (32, 4 + 4 + 32)
        t[10] = (k, 2 + 2 + k / 16 + k / 4)
        t[11] = (k, 2 + k / 4 + k / 8 + 12)
        t[12] = (k, 2 + 2 + k / 2 + 12)
        t[13] = (k, 2 + 2 + k / 2 + k / 8 + 12)
        t[14] = (k, 2 + k / 2 + k / 4 + k / 16)
        t[15] = (k, 4 + k + k / 8)
        t[16] = (k, 2 + k / 4); t[17] = (k, 2 + k / 4 + k / 32); t[18] = (k, 2 + k / 4 + k / 8)
        t[19] = (k, 2 + k / 8 + k / 16); t[20] = (32, 2 + 16); t[21] = (k, 2 + k / 4 + k / 8 + k / 32 + 4)
        t[22] = (k, 2 + k / 4 + k / 16); t[23] = (k, 2 + 2 + k / 2 + k / 64)
        t[24] = (1, 1); t[25] = (1, 2); t[26] = (1, 4); t[27] = (1, 8); t[28] = (1, 8)
        t[29] = (k, k / 8 + k / 16 + k / 32); t[30] = (1, 2)
        t[34] = (k, 2 + 4 * 13); t[35] = (k, 2 + 64); t[39] = (32, 1 + 16); t[40] = (64, 4 + 32); t[41] = (128, 2 + 16)
        return t
    }()
}
