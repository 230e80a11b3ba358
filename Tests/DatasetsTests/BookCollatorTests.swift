import XCTest
@testable import Datasets

/// The book's collator test vectors (notes-lora-formatting.md C5/C6: Phi-3 token ids, PAD = <unk> = 0, left padding).
final class BookCollatorTests: XCTestCase {
    let row0: [Int32] = [32010, 450, 29773, 305, 508, 7297, 2243, 333, 373, 278, 10597, 715, 1331, 29889, 32007, 32001, 1551, 278, 10597, 715, 1331, 29892, 278, 29773, 305, 508, 7297, 2243, 333, 29889, 3869, 29892, 298, 21478, 1758, 29889, 32007, 32000]
    let row1: [Int32] = [32010, 8467, 434, 278, 9869, 304, 278, 6501, 7254, 3239, 29889, 32007, 32001, 8467, 434, 278, 9869, 304, 278, 6501, 7254, 3239, 29892, 366, 1818, 29889, 32007, 32000]
    let m100 = ignoreIndex

    var examples: [TokenizedExample] { [TokenizedExample(inputIds: row0), TokenizedExample(inputIds: row1)] }

    func testPaddingAndLanguageModelingLeftPadded() throws {   // TV-B1, TV-B2
        let b = try LanguageModelingCollator(padTokenId: 0, paddingSide: .left).collate(examples)
        XCTAssertEqual(b.inputIds[0], row0)
        XCTAssertEqual(b.inputIds[1], Array(repeating: 0, count: 10) + row1)
        XCTAssertEqual(b.attentionMask![1], Array(repeating: 0, count: 10) + Array(repeating: 1, count: 28))
        XCTAssertEqual(b.attentionMask![0], Array(repeating: 1, count: 38))
        XCTAssertEqual(b.labels[0], row0)
        XCTAssertEqual(b.labels[1], Array(repeating: m100, count: 10) + row1)
    }

    func testCompletionOnlyResponseTemplate() throws {   // TV-B3
        let c = try CompletionOnlyCollator(responseTemplate: [32001], padTokenId: 0)
        let b = try c.collate(examples)
        XCTAssertEqual(b.labels[0], Array(repeating: m100, count: 16) + Array(row0[16...]))
        XCTAssertEqual(b.labels[1], Array(repeating: m100, count: 23) + [8467, 434, 278, 9869, 304, 278, 6501, 7254, 3239, 29892, 366, 1818, 29889, 32007, 32000])
        XCTAssertTrue(c.warnings.isEmpty)
    }

    let multi: [Int32] = [32010, 15043, 13, 32001, 1128, 526, 366, 29973, 13, 32010, 306, 29915, 29885, 2691, 29991, 887, 29973, 13, 32001, 306, 29915, 29885, 2691, 2086, 29991, 13, 32000]

    func testCompletionOnlyMultiTurn() throws {   // TV-B4
        let single = try CompletionOnlyCollator(responseTemplate: [32001], padTokenId: 0).collate([TokenizedExample(inputIds: multi)])
        XCTAssertEqual(single.labels[0], Array(repeating: m100, count: 19) + [306, 29915, 29885, 2691, 2086, 29991, 13, 32000])
        let withInstruction = try CompletionOnlyCollator(responseTemplate: [32001], instructionTemplate: [32010], padTokenId: 0)
            .collate([TokenizedExample(inputIds: multi)])
        XCTAssertEqual(withInstruction.labels[0], [m100, m100, m100, m100, 1128, 526, 366, 29973, 13, m100, m100, m100, m100, m100, m100, m100, m100, m100, m100, 306, 29915, 29885, 2691, 2086, 29991, 13, 32000])
    }

    func testFlatteningAndPaddingFreeCompletionOnly() throws {   // TV-B5, TV-B6
        let flat = try FlatteningCollator().collate(examples)
        XCTAssertEqual(flat.inputIds, [row0 + row1])
        XCTAssertEqual(flat.labels, [[m100] + row0.dropFirst() + [m100] + row1.dropFirst()])
        XCTAssertEqual(flat.positionIds, [(0..<38).map(Int32.init) + (0..<28).map(Int32.init)])
        XCTAssertEqual(flat.positionIds![0].max()! + 1, 38)
        XCTAssertNil(flat.attentionMask)

        let pf = try CompletionOnlyCollator(responseTemplate: [32001], padTokenId: 0, paddingFree: true).collate(examples)
        XCTAssertEqual(pf.inputIds, [row0 + row1])
        XCTAssertEqual(pf.labels, [Array(repeating: m100, count: 16) + Array(row0[16...]) + Array(repeating: m100, count: 13) + Array(row1[13...])])
        XCTAssertEqual(pf.positionIds, flat.positionIds)
        XCTAssertNil(pf.attentionMask)
    }

    func testResponseTemplateNotFoundWarns() throws {   // TV-B7, the '### Assistant:' pitfall
        let llama: [Int32] = [1, 835, 4911, 29901, 15043, 13, 13, 2277, 29937, 4007, 22137, 29901, 6324, 29892, 920, 508, 306, 1371, 366, 29973]
        let alone = try CompletionOnlyCollator(responseTemplate: [835, 4007, 22137, 29901], padTokenId: 0)
        let b = try alone.collate([TokenizedExample(inputIds: llama)])
        XCTAssertEqual(b.labels[0], Array(repeating: m100, count: 20))
        XCTAssertEqual(alone.warnings.count, 1)
        XCTAssertEqual(alone.warnings[0].code, .responseTemplateNotFound)
        XCTAssertTrue(alone.warnings[0].message.contains("could not find the response template [835, 4007, 22137, 29901]"), alone.warnings[0].message)
        XCTAssertTrue(alone.warnings[0].message.contains("single special token"))

        let inContext = try CompletionOnlyCollator(responseTemplate: [2277, 29937, 4007, 22137, 29901], padTokenId: 0)
        XCTAssertEqual(try inContext.collate([TokenizedExample(inputIds: llama)]).labels[0],
                       Array(repeating: m100, count: 12) + [6324, 29892, 920, 508, 306, 1371, 366, 29973])
        XCTAssertTrue(inContext.warnings.isEmpty)
    }

    func testConstantLengthPacking() throws {   // TV-K1/K2 shape: EOS after each example, fixed chunks, tail dropped
        let rows = [TokenizedExample(inputIds: row0), TokenizedExample(inputIds: row1)]
        let packed = try Packing.pack(rows, seqLength: 64, strategy: .constantLength, eosTokenId: 32000)
        XCTAssertEqual(packed.count, 1)   // 38 + 1 + 28 + 1 = 68 tokens → one row of 64, 4 dropped
        XCTAssertEqual(packed[0].inputIds, row0 + [32000] + Array(row1.prefix(25)))
        XCTAssertEqual(packed[0].inputIds[37...38], [32000, 32000])   // the row's own EOS + the separator (TV-K2)
        XCTAssertEqual(packed[0].labels, packed[0].inputIds)
        XCTAssertNil(packed[0].seqLengths)
        // Padded collation of constant-length rows: no padding at all.
        let b = try LanguageModelingCollator(padTokenId: 0).collate(packed)
        XCTAssertEqual(b.attentionMask!, [Array(repeating: 1, count: 64)])
    }

    func testPadToMultipleOfAndRightPadding() throws {
        let b = try LanguageModelingCollator(padTokenId: 0, returnPositionIds: true, padToMultipleOf: 16).collate(examples)
        XCTAssertEqual(b.sequenceLength, 48)
        XCTAssertEqual(b.inputIds[1], row1 + Array(repeating: 0, count: 20))
        XCTAssertEqual(b.labels[1], row1 + Array(repeating: m100, count: 20))
        XCTAssertEqual(b.positionIds![1], (0..<28).map(Int32.init) + Array(repeating: 0, count: 20))
    }

    func testMismatchedLabelsAreAnError() {
        XCTAssertThrowsError(try LanguageModelingCollator(padTokenId: 0).collate([TokenizedExample(inputIds: [1, 2], labels: [1])])) { e in
            XCTAssertTrue("\(e)".contains("1 labels for 2 input ids"))
        }
    }
}
