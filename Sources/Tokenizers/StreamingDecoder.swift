import Foundation

/// Incremental detokenization for streaming generation (`DecodeStream` in `tokenizers`): feed ids one
/// at a time and get the new text they complete. Text is held back while the decoded tail is an
/// incomplete UTF-8 sequence (shown as U+FFFD), so a multi-byte character is never emitted in halves.
/// A few previous ids are kept as context so that decoders which look at neighbours (Metaspace,
/// Strip) produce the same text as a one-shot `decode`.
public struct StreamingDecoder {
    public let tokenizer: Tokenizer
    public let skipSpecialTokens: Bool
    /// Ids of the current window: already-emitted context followed by pending ids.
    private var window: [Int] = []
    /// `decode(window)` at the last emission: the text already sent for this window.
    private var prefix: [Unicode.Scalar] = []
    /// Emitted ids kept as context for the next decode.
    private let contextSize = 6

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the newly completed text, or nil when nothing can be emitted yet.
    public mutating func step(_ id: Int) -> String? {
        window.append(id)
        let s = Array(tokenizer.decode(window, skipSpecialTokens: skipSpecialTokens).unicodeScalars)
        guard s.count > prefix.count, s.last != "\u{FFFD}" else { return nil }
        // Decoding the window normally extends the previous decode of its emitted part; if a decoder
        // rewrote that part, emit only what lies beyond it (never re-emitting sent text).
        var out = String.UnicodeScalarView()
        out.append(contentsOf: s[prefix.count...])
        if window.count > contextSize {
            // Never cut inside a run of byte-fallback tokens of one character: ByteFallback turns a
            // run that starts with a continuation byte into U+FFFDs, including what follows in it.
            var cut = window.count - contextSize
            while cut > 0, isContinuationByte(window[cut]) { cut -= 1 }
            if cut > 0 { window.removeFirst(cut) }
        }
        prefix = Array(tokenizer.decode(window, skipSpecialTokens: skipSpecialTokens).unicodeScalars)
        return String(out)
    }

    private func isContinuationByte(_ id: Int) -> Bool {
        guard let t = tokenizer.idToToken(id), let b = ByteFallbackDecoder.parseByte(t) else { return false }
        return b >= 0x80 && b <= 0xBF
    }

    /// Whatever is still held back (an incomplete character at the end of the stream, as U+FFFD),
    /// and resets the stream.
    public mutating func finish() -> String {
        let s = Array(tokenizer.decode(window, skipSpecialTokens: skipSpecialTokens).unicodeScalars)
        defer { window = []; prefix = [] }
        guard s.count > prefix.count else { return "" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: s[prefix.count...])
        return String(out)
    }
}
