import Foundation

/// A token's `[start, end)` range in the input text, counted in Unicode scalars (code points), as
/// the Python bindings of `tokenizers` return offsets. Tokens added by post-processing have (0, 0).
public struct TokenOffset: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var start: Int
    public var end: Int
    public init(_ start: Int, _ end: Int) {
        self.start = start
        self.end = end
    }
    public var description: String { "(\(start), \(end))" }
}

/// The result of encoding one text: ids, token strings, offsets and masks.
public struct Encoding: Sendable, Equatable {
    public var ids: [Int]
    public var tokens: [String]
    public var offsets: [TokenOffset]
    /// Segment id (0 for the first sequence, 1 for the pair) of each token.
    public var typeIds: [Int]
    /// 1 where the token was added by the post-processor (or is padding).
    public var specialTokensMask: [Int]
    /// 1 for real tokens, 0 for padding.
    public var attentionMask: [Int]
    /// Tokens cut off by truncation, one `Encoding` per window.
    public var overflowing: [Encoding]

    public init(ids: [Int] = [], tokens: [String] = [], offsets: [TokenOffset] = [], typeIds: [Int] = [],
                specialTokensMask: [Int] = [], attentionMask: [Int] = [], overflowing: [Encoding] = []) {
        self.ids = ids
        self.tokens = tokens
        self.offsets = offsets
        self.typeIds = typeIds
        self.specialTokensMask = specialTokensMask
        self.attentionMask = attentionMask
        self.overflowing = overflowing
    }

    public var count: Int { ids.count }

    mutating func append(id: Int, token: String, offset: TokenOffset, typeId: Int, special: Bool) {
        ids.append(id); tokens.append(token); offsets.append(offset); typeIds.append(typeId)
        specialTokensMask.append(special ? 1 : 0); attentionMask.append(1)
    }

    mutating func append(contentsOf e: Encoding, typeId: Int? = nil) {
        ids += e.ids; tokens += e.tokens; offsets += e.offsets
        typeIds += typeId.map { [Int](repeating: $0, count: e.count) } ?? e.typeIds
        specialTokensMask += e.specialTokensMask; attentionMask += e.attentionMask
    }

    mutating func setTypeIds(_ t: Int) { typeIds = [Int](repeating: t, count: ids.count) }

    /// Keeps `range` of the tokens.
    func slice(_ range: Range<Int>) -> Encoding {
        Encoding(ids: Array(ids[range]), tokens: Array(tokens[range]), offsets: Array(offsets[range]),
                 typeIds: Array(typeIds[range]), specialTokensMask: Array(specialTokensMask[range]),
                 attentionMask: Array(attentionMask[range]))
    }
}

/// Which end truncation and padding act on.
public enum Side: String, Sendable {
    case left, right
}

/// `truncation` of tokenizer.json (or set by the caller).
public struct TruncationParams: Sendable, Equatable {
    public var maxLength: Int
    public var stride: Int
    public var direction: Side
    public init(maxLength: Int, stride: Int = 0, direction: Side = .right) {
        self.maxLength = maxLength
        self.stride = stride
        self.direction = direction
    }
}

/// `padding` of tokenizer.json (or set by the caller).
public struct PaddingParams: Sendable, Equatable {
    /// Pad to this length; nil pads a batch to its longest member.
    public var length: Int?
    public var padToMultipleOf: Int?
    public var padId: Int
    public var padTypeId: Int
    public var padToken: String
    public var direction: Side
    public init(length: Int? = nil, padToMultipleOf: Int? = nil, padId: Int = 0, padTypeId: Int = 0,
                padToken: String = "[PAD]", direction: Side = .right) {
        self.length = length
        self.padToMultipleOf = padToMultipleOf
        self.padId = padId
        self.padTypeId = padTypeId
        self.padToken = padToken
        self.direction = direction
    }
}

extension Encoding {
    /// Cuts the encoding to `maxLength` tokens; the rest goes to `overflowing` in windows that
    /// overlap by `stride` tokens (as `Encoding::truncate` in `tokenizers`).
    public mutating func truncate(maxLength: Int, stride: Int = 0, direction: Side = .right) {
        guard maxLength >= 0, count > maxLength else { return }
        if maxLength == 0 {
            overflowing = [self]
            let ov = overflowing
            self = Encoding()
            overflowing = ov
            return
        }
        let step = max(1, maxLength - min(stride, maxLength - 1))
        var windows: [Range<Int>] = []
        switch direction {
        case .right:
            var start = 0
            while start < count {
                windows.append(start..<min(start + maxLength, count))
                if start + maxLength >= count { break }
                start += step
            }
        case .left:
            var end = count
            while end > 0 {
                windows.append(max(0, end - maxLength)..<end)
                if end - maxLength <= 0 { break }
                end -= step
            }
        }
        let parts = windows.map { slice($0) }
        self = parts[0]
        overflowing = Array(parts.dropFirst())
    }

    /// Pads to `length` tokens on `direction` with the pad token.
    public mutating func pad(to length: Int, padId: Int, padTypeId: Int = 0, padToken: String, direction: Side = .right) {
        let n = length - count
        guard n > 0 else { return }
        let ids = [Int](repeating: padId, count: n)
        let toks = [String](repeating: padToken, count: n)
        let offs = [TokenOffset](repeating: TokenOffset(0, 0), count: n)
        let types = [Int](repeating: padTypeId, count: n)
        let ones = [Int](repeating: 1, count: n)
        let zeros = [Int](repeating: 0, count: n)
        switch direction {
        case .right:
            self.ids += ids; tokens += toks; offsets += offs; typeIds += types
            specialTokensMask += ones; attentionMask += zeros
        case .left:
            self.ids = ids + self.ids; tokens = toks + tokens; offsets = offs + offsets; typeIds = types + typeIds
            specialTokensMask = ones + specialTokensMask; attentionMask = zeros + attentionMask
        }
    }
}
