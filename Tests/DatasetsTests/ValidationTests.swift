import XCTest
@testable import Datasets

/// Each chapter 4 / chapter -1 check, with the message it shows (cause and fix).
final class ValidationTests: XCTestCase {
    func testPadEqualsEOSIsFixedWithUNK() throws {
        var e = FakeEncoder(); e.padToken = "</s>"
        let (id, d) = try DataValidation.resolvePadToken(encoder: e)
        XCTAssertEqual(id, 0)   // <unk>
        XCTAssertEqual(d.map(\.code), [.padEqualsEOS])
        XCTAssertEqual(d[0].severity, .warning)
        XCTAssertTrue(d[0].message.contains("the tokenizer's pad token '</s>' is its EOS token"), d[0].message)
        XCTAssertTrue(d[0].message.contains("may never learn to stop"), d[0].message)
        XCTAssertTrue(d[0].message.contains("fixed: padding with the UNK token '<unk>' (id 0)"), d[0].message)
        XCTAssertTrue(d[0].message.contains("set pad_token in the config"), d[0].message)
    }

    func testMissingPadToken() throws {
        var e = FakeEncoder(); e.padToken = nil
        let (id, d) = try DataValidation.resolvePadToken(encoder: e)
        XCTAssertEqual(id, 0)
        XCTAssertEqual(d.first?.code, .missingPadToken)
        XCTAssertTrue(d[0].message.hasPrefix("the tokenizer has no pad token; fixed: padding with the UNK token"), d[0].message)
        // No UNK distinct from EOS either: EOS as a last resort, and the message says to add a pad token.
        e.unkToken = "</s>"
        let (id2, d2) = try DataValidation.resolvePadToken(encoder: e)
        XCTAssertEqual(id2, 2)
        XCTAssertTrue(d2[0].message.contains("padding with EOS '</s>' (id 2) as TRL does"), d2[0].message)
        XCTAssertTrue(d2[0].message.contains("add a dedicated pad token"), d2[0].message)
        // Nothing at all: an error.
        e.eosToken = nil; e.unkToken = nil
        let (id3, d3) = try DataValidation.resolvePadToken(encoder: e)
        XCTAssertNil(id3)
        XCTAssertEqual(d3[0].severity, .error)
        XCTAssertTrue(d3[0].message.contains("padding-free packing"), d3[0].message)
    }

    func testConfigPadToken() throws {
        let e = FakeEncoder()
        XCTAssertEqual(try DataValidation.resolvePadToken(encoder: e, configPadToken: "<pad>").id, 3)
        XCTAssertThrowsError(try DataValidation.resolvePadToken(encoder: e, configPadToken: "[PAD]")) { err in
            XCTAssertTrue("\(err)".contains("pad_token '[PAD]' is not in the tokenizer's vocabulary"), "\(err)")
        }
        let (_, d) = try DataValidation.resolvePadToken(encoder: e, configPadToken: "</s>")
        XCTAssertEqual(d.first?.code, .padEqualsEOS)
    }

    func testMaxLengthAboveModel() {
        let d = DataValidation.checkMaxLength(4096, maxPositionEmbeddings: 2048, tokenizerMaxLength: nil)
        XCTAssertEqual(d.first?.severity, .error)
        XCTAssertEqual(d.first?.message, "max_seq_length 4096 is above the model's max_position_embeddings 2048: positions past 2048 have no trained embedding (or RoPE extrapolates badly). Set max_seq_length to at most 2048.")
        XCTAssertTrue(DataValidation.checkMaxLength(2048, maxPositionEmbeddings: 2048, tokenizerMaxLength: nil).isEmpty)
        // OPT's tokenizer model_max_length of 1e30 is ignored.
        XCTAssertTrue(DataValidation.checkMaxLength(4096, maxPositionEmbeddings: nil, tokenizerMaxLength: Int(1e18)).isEmpty)
        XCTAssertEqual(DataValidation.checkMaxLength(4096, maxPositionEmbeddings: nil, tokenizerMaxLength: 2048).first?.severity, .warning)
    }

    func testRightPadding() {
        let d = DataValidation.checkPaddingSide(.right, packing: false, paddingFree: false)
        XCTAssertEqual(d.first?.code, .rightPadding)
        XCTAssertTrue(d[0].message.contains("breaks batched generation"), d[0].message)
        XCTAssertTrue(d[0].message.contains("padding_side: left"), d[0].message)
        XCTAssertTrue(DataValidation.checkPaddingSide(.left, packing: false, paddingFree: false).isEmpty)
        XCTAssertTrue(DataValidation.checkPaddingSide(.right, packing: true, paddingFree: false).isEmpty)
    }

    func testEmptyAndAllMaskedExamples() {
        let d = DataValidation.checkExamples([TokenizedExample(inputIds: []), TokenizedExample(inputIds: [5, 6], labels: [-100, -100]), TokenizedExample(inputIds: [7])])
        XCTAssertEqual(d.map(\.code), [.emptyExample, .allMaskedExample])
        XCTAssertEqual(d[0].message, "1 empty example(s) (example 0). Remove empty rows from the dataset.")
        XCTAssertTrue(d[1].message.hasPrefix("1 example(s) have every label -100 (example 1): no loss is taken on them."), d[1].message)
    }

    func testResponseTemplateNotFoundThroughStringTemplate() throws {
        // The book's pitfall on a character tokenizer: "\n### Assistant:" in context vs "### Assistant:" alone is
        // fine here, but a template absent from the text warns and masks the row.
        let enc = FakeEncoder()
        let c = try CompletionOnlyCollator.make(responseTemplate: "### Answer:", encoder: enc, padTokenId: 3)
        _ = try c.collate([TokenizedExample(inputIds: try enc.encode("### Question: hi\n### Assistant: yo", addSpecialTokens: false))])
        XCTAssertEqual(c.warnings.first?.code, .responseTemplateNotFound)
        XCTAssertTrue(c.warnings[0].message.contains("its labels are all -100 (no loss)"), c.warnings[0].message)
        let ok = try CompletionOnlyCollator.make(responseTemplate: "### Assistant:", encoder: enc, padTokenId: 3)
        let b = try ok.collate([TokenizedExample(inputIds: try enc.encode("### Question: hi\n### Assistant: yo", addSpecialTokens: false))])
        XCTAssertEqual(enc.decode(b.labels[0].filter { $0 >= 0 }, skipSpecialTokens: false), " yo")
        XCTAssertTrue(ok.warnings.isEmpty)
    }
}
