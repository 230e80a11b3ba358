/// bfloat16: the upper 16 bits of an IEEE float32. Conversions match PyTorch's `c10::BFloat16` bit for bit:
/// round-to-nearest-even from float32, NaN becomes the canonical quiet NaN 0x7FC0.
public struct BFloat16: Hashable, Sendable, CustomStringConvertible {
    public var bitPattern: UInt16

    @inlinable public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    @inlinable public init(_ value: Float) {
        if value.isNaN { bitPattern = 0x7FC0; return }
        let u = value.bitPattern
        let roundingBias = ((u >> 16) & 1) &+ 0x7FFF
        bitPattern = UInt16(truncatingIfNeeded: (u &+ roundingBias) >> 16)
    }

    @inlinable public var float: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    public var description: String { float.description }
}

extension Float {
    @inlinable public init(_ value: BFloat16) { self = value.float }
}
