import Foundation

/// `padding_side`.
public enum PaddingSide: String, Codable, Sendable { case left, right }

/// A collated batch, row-major `[batch][sequence]`. Optional keys are absent exactly where the Python collator
/// leaves them out (padding-free: no attention_mask; padded: no position_ids unless asked for).
public struct Batch: Equatable, Sendable {
    public var inputIds: [[Int32]]
    public var labels: [[Int32]]
    public var attentionMask: [[Int32]]?
    public var positionIds: [[Int32]]?
    /// Padding-free rows: how many leading tokens are real (the rest is `pad_to_multiple_of` filler). Not part of
    /// equality: the Python collators do not return it.
    public var realLength: Int?

    public init(inputIds: [[Int32]], labels: [[Int32]], attentionMask: [[Int32]]? = nil, positionIds: [[Int32]]? = nil, realLength: Int? = nil) {
        self.inputIds = inputIds; self.labels = labels; self.attentionMask = attentionMask; self.positionIds = positionIds
        self.realLength = realLength
    }

    public static func == (a: Batch, b: Batch) -> Bool {
        a.inputIds == b.inputIds && a.labels == b.labels && a.attentionMask == b.attentionMask && a.positionIds == b.positionIds
    }

    public var rowCount: Int { inputIds.count }
    public var sequenceLength: Int { inputIds.first?.count ?? 0 }
}

/// Anything that turns examples into a batch.
public protocol DataCollator {
    func collate(_ examples: [TokenizedExample]) throws -> Batch
}

func paddedLength(_ n: Int, multiple: Int?) -> Int {
    // Capped so a hostile pad_to_multiple_of cannot request an unbounded allocation.
    guard let m = multiple, m > 1, m <= 65536 else { return n }
    return (n + m - 1) / m * m
}

func pad(_ rows: [[Int32]], to length: Int, value: Int32, side: PaddingSide) -> [[Int32]] {
    rows.map { r in
        let fill = Array(repeating: value, count: max(0, length - r.count))
        return side == .right ? r + fill : fill + r
    }
}

/// TRL 1.x `DataCollatorForLanguageModeling`: pads `input_ids` with the pad id and `labels` with -100 (labels
/// default to the input ids when an example has none), builds `attention_mask`. With `paddingFree`, flattens the
/// whole batch into one row with `position_ids` restarting per sequence (per packed sub-sequence when examples
/// carry `seqLengths`), no attention mask, and label -100 wherever `position_ids == 0`.
///
/// TRL always pads on the right; `paddingSide: .left` is the book's choice for generation-style batches.
public struct LanguageModelingCollator: DataCollator {
    public var padTokenId: Int32
    public var paddingFree: Bool
    public var returnPositionIds: Bool
    public var padToMultipleOf: Int?
    public var paddingSide: PaddingSide

    public init(padTokenId: Int32, paddingFree: Bool = false, returnPositionIds: Bool = false,
                padToMultipleOf: Int? = nil, paddingSide: PaddingSide = .right) {
        self.padTokenId = padTokenId; self.paddingFree = paddingFree; self.returnPositionIds = returnPositionIds
        self.padToMultipleOf = padToMultipleOf; self.paddingSide = paddingSide
    }

    public func collate(_ examples: [TokenizedExample]) throws -> Batch {
        guard !examples.isEmpty else { throw DatasetError.invalidArgument("cannot collate an empty batch") }
        for (k, e) in examples.enumerated() where e.labels.count != e.inputIds.count {
            throw DatasetError.invalidArgument("example \(k) of the batch has \(e.labels.count) labels for \(e.inputIds.count) input ids")
        }
        var ids = examples.map(\.inputIds)
        var labels = examples.map(\.labels)
        var positions: [[Int32]]? = nil
        if paddingFree || returnPositionIds {
            positions = examples.map { e in
                let lengths = e.seqLengths ?? [e.inputIds.count]
                var p: [Int32] = []
                p.reserveCapacity(e.inputIds.count)
                for l in lengths { for t in 0..<l { p.append(Int32(t)) } }
                return p
            }
        }
        if paddingFree {
            ids = [ids.flatMap { $0 }]
            labels = [labels.flatMap { $0 }]
            positions = [positions!.flatMap { $0 }]
            let real = ids[0].count
            let len = paddedLength(ids[0].count, multiple: padToMultipleOf)
            ids = pad(ids, to: len, value: padTokenId, side: .right)
            labels = pad(labels, to: len, value: ignoreIndex, side: .right)
            let p = pad(positions!, to: len, value: 0, side: .right)[0]
            for t in 0..<len where p[t] == 0 { labels[0][t] = ignoreIndex }
            return Batch(inputIds: ids, labels: labels, attentionMask: nil, positionIds: [p], realLength: real)
        }
        let len = paddedLength(ids.map(\.count).max() ?? 0, multiple: padToMultipleOf)
        let mask = examples.map { Array(repeating: Int32(1), count: $0.inputIds.count) }
        return Batch(inputIds: pad(ids, to: len, value: padTokenId, side: paddingSide),
                     labels: pad(labels, to: len, value: ignoreIndex, side: paddingSide),
                     attentionMask: pad(mask, to: len, value: 0, side: paddingSide),
                     positionIds: positions.map { pad($0, to: len, value: 0, side: paddingSide) })
    }
}

/// transformers `DataCollatorWithFlattening` (padding-free, "no cross-contamination"): the whole batch becomes one
/// row; `labels` = each sequence's labels (its ids when it has none) with the first replaced by `separatorId`;
/// `position_ids` restart at 0 per sequence; no padding and no attention mask.
public struct FlatteningCollator: DataCollator {
    public var separatorId: Int32
    public var useExampleLabels: Bool

    /// `useExampleLabels: false` reproduces transformers when the features carry only `input_ids`.
    public init(separatorId: Int32 = ignoreIndex, useExampleLabels: Bool = true) {
        self.separatorId = separatorId; self.useExampleLabels = useExampleLabels
    }

    public func collate(_ examples: [TokenizedExample]) throws -> Batch {
        let nonEmpty = examples.filter { !$0.inputIds.isEmpty }
        guard !nonEmpty.isEmpty else { throw DatasetError.invalidArgument("DataCollatorWithFlattening received a batch where every example is empty") }
        var ids: [Int32] = [], labels: [Int32] = [], pos: [Int32] = []
        for e in nonEmpty {
            ids += e.inputIds
            let l = useExampleLabels ? e.labels : e.inputIds
            labels.append(separatorId)
            labels += l.dropFirst()
            for t in 0..<e.inputIds.count { pos.append(Int32(t)) }
        }
        return Batch(inputIds: [ids], labels: [labels], attentionMask: nil, positionIds: [pos])
    }
}

/// The book's `DataCollatorForCompletionOnlyLM` (TRL ≤ 0.19): LM-collator labels, then everything up to the end of
/// the response template is masked — the last occurrence of the template, or, with an instruction template
/// (multi-turn), every human span. Templates are token-id sequences; `Optional` string templates are encoded by
/// `CompletionOnlyCollator.make(...)`. A row where a template is missing gets every label -100 and a warning.
public final class CompletionOnlyCollator: DataCollator {
    public let responseTemplate: [Int32]
    public let instructionTemplate: [Int32]?
    public let padTokenId: Int32
    public let paddingSide: PaddingSide
    public let paddingFree: Bool
    /// Warnings from the batches collated so far (one per row that missed a template).
    public private(set) var warnings: [DataDiagnostic] = []
    /// For each warning, the row of its batch (to map back to the example).
    public private(set) var warningRows: [Int] = []

    /// Forgets the warnings collected so far.
    public func resetWarnings() { warnings.removeAll(); warningRows.removeAll() }

    public init(responseTemplate: [Int32], instructionTemplate: [Int32]? = nil, padTokenId: Int32,
                paddingSide: PaddingSide = .left, paddingFree: Bool = false) throws {
        guard !responseTemplate.isEmpty else { throw DatasetError.invalidConfig("response_template is empty") }
        if let i = instructionTemplate, i.isEmpty { throw DatasetError.invalidConfig("instruction_template is empty") }
        self.responseTemplate = responseTemplate; self.instructionTemplate = instructionTemplate
        self.padTokenId = padTokenId; self.paddingSide = paddingSide; self.paddingFree = paddingFree
    }

    /// Encodes string templates with `add_special_tokens=False`, as TRL did.
    public static func make(responseTemplate: String, instructionTemplate: String? = nil, encoder: TextEncoding,
                            padTokenId: Int32, paddingSide: PaddingSide = .left, paddingFree: Bool = false) throws -> CompletionOnlyCollator {
        try CompletionOnlyCollator(responseTemplate: encoder.encode(responseTemplate, addSpecialTokens: false),
                                   instructionTemplate: try instructionTemplate.map { try encoder.encode($0, addSpecialTokens: false) },
                                   padTokenId: padTokenId, paddingSide: paddingSide, paddingFree: paddingFree)
    }

    static func occurrences(of pattern: [Int32], in row: [Int32]) -> [Int] {
        guard !pattern.isEmpty, row.count >= pattern.count else { return [] }
        var out: [Int] = []
        let first = pattern[0]
        for s in 0...(row.count - pattern.count) where row[s] == first {
            var ok = true
            for k in 1..<pattern.count where row[s + k] != pattern[k] { ok = false; break }
            if ok { out.append(s) }
        }
        return out
    }

    public func collate(_ examples: [TokenizedExample]) throws -> Batch {
        // LM collator first: labels = input_ids, pads → -100 (labels the examples carry are ignored, as in TRL).
        let plain = examples.map { TokenizedExample(inputIds: $0.inputIds) }
        var batch = try LanguageModelingCollator(padTokenId: padTokenId, paddingSide: paddingSide).collate(plain)
        for r in 0..<batch.rowCount {
            let row = batch.inputIds[r]
            let mask = batch.attentionMask![r]
            var labels = batch.labels[r]
            let respStarts = Self.occurrences(of: responseTemplate, in: row)
            if let instruction = instructionTemplate {
                let humanStarts = Self.occurrences(of: instruction, in: row)
                if respStarts.isEmpty || humanStarts.isEmpty {
                    let which = respStarts.isEmpty ? "response template \(responseTemplate)" : "instruction template \(instruction)"
                    warningRows.append(r)
                    warnings.append(DataDiagnostic(.warning, respStarts.isEmpty ? .responseTemplateNotFound : .instructionTemplateNotFound,
                        "could not find the \(which) in batch row \(r); its labels are all -100 (no loss). The template tokenizes differently inside the text than alone (e.g. '### Assistant:' after a newline); pass the template as the token ids it has in context, or make it a single special token."))
                    labels = Array(repeating: ignoreIndex, count: labels.count)
                } else {
                    let respEnds = respStarts.map { $0 + responseTemplate.count }
                    var humans = humanStarts
                    if humans[0] > respEnds[0] { humans.insert(0, at: 0) }
                    // zip(human_starts, response_token_ids_idxs): first pair masks [:r], later [h:r].
                    for (k, (h, e)) in zip(humans, respEnds).enumerated() {
                        let from = k == 0 ? 0 : h
                        if from < e { for t in from..<min(e, labels.count) { labels[t] = ignoreIndex } }
                    }
                    if humans.count > respEnds.count, let last = humans.last {
                        for t in last..<labels.count { labels[t] = ignoreIndex }
                    }
                }
            } else if let start = respStarts.last {
                for t in 0..<(start + responseTemplate.count) { labels[t] = ignoreIndex }
            } else {
                warningRows.append(r)
                warnings.append(DataDiagnostic(.warning, .responseTemplateNotFound,
                    "could not find the response template \(responseTemplate) in batch row \(r); its labels are all -100 (no loss). The template tokenizes differently inside the text than alone (e.g. '### Assistant:' after a newline becomes different ids); pass the token ids it has in context, or make the response template a single special token."))
                labels = Array(repeating: ignoreIndex, count: labels.count)
            }
            for t in 0..<labels.count where mask[t] == 0 { labels[t] = ignoreIndex }
            batch.labels[r] = labels
        }
        guard paddingFree else { return batch }
        // padding_free: keep the non-pad tokens, concatenate, position_ids restart per row, first label -100.
        var ids: [Int32] = [], labels: [Int32] = [], pos: [Int32] = []
        for r in 0..<batch.rowCount {
            var p: Int32 = 0
            for t in 0..<batch.sequenceLength where batch.attentionMask![r][t] == 1 {
                ids.append(batch.inputIds[r][t]); labels.append(p == 0 ? ignoreIndex : batch.labels[r][t]); pos.append(p); p += 1
            }
        }
        return Batch(inputIds: [ids], labels: [labels], attentionMask: nil, positionIds: [pos])
    }
}
