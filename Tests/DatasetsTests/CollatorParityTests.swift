import XCTest
@testable import Datasets

/// Collation and packing against TRL 1.16 / transformers 5.24 output (fixtures from
/// scripts/gen_dataset_fixtures.py, SmolLM2 tokenizer, yoda rows 0–31). Exact integer equality.
final class CollatorParityTests: XCTestCase {
    func testPaddedCollatorMatchesTRL() throws {
        for name in ["conv_completion_only", "text_prompt_completion", "formatting_func_lm", "multiturn_assistant_only", "multiturn_full_loss"] {
            let f = try TRLFixture(name)
            let c = LanguageModelingCollator(padTokenId: f.padTokenId!)
            XCTAssertEqual(try collateAll(c, f.examples), f.batches, name)
        }
    }

    func testPadToMultipleOfMatchesTRL() throws {
        let f = try TRLFixture("conv_full_loss_pad8")
        let got = try collateAll(LanguageModelingCollator(padTokenId: f.padTokenId!, padToMultipleOf: 8), f.examples)
        XCTAssertEqual(got, f.batches)
        XCTAssertTrue(got.allSatisfy { $0.sequenceLength % 8 == 0 })
    }

    func testPaddingFreeMatchesTRL() throws {
        let f = try TRLFixture("conv_padding_free")
        let got = try collateAll(LanguageModelingCollator(padTokenId: f.padTokenId!, paddingFree: true), f.examples)
        XCTAssertEqual(got, f.batches)
        XCTAssertNil(got[0].attentionMask)
    }

    func testBFDPackingMatchesTRL() throws {
        // TRL packs the same examples it uses unpacked when max_length is None (packing skips truncation).
        let source = try TRLFixture("conv_padding_free")
        let f = try TRLFixture("conv_packing_bfd")
        let packed = try Packing.pack(source.examples, seqLength: 128, strategy: .bfd, eosTokenId: 2)
        XCTAssertEqual(packed, f.examples)
        XCTAssertTrue(packed.allSatisfy { $0.inputIds.count <= 128 && $0.seqLengths!.reduce(0, +) == $0.inputIds.count })
        let got = try collateAll(LanguageModelingCollator(padTokenId: f.padTokenId!, paddingFree: true), packed)
        XCTAssertEqual(got, f.batches)
        // Segment-aware attention: position_ids restart at 0 at every packed sequence and each first label is -100.
        let pos = got[0].positionIds![0]
        let starts = pos.indices.filter { pos[$0] == 0 }
        XCTAssertEqual(starts.count, packed.prefix(8).map { $0.seqLengths!.count }.reduce(0, +))
        XCTAssertTrue(starts.allSatisfy { got[0].labels[0][$0] == ignoreIndex })
    }

    func testBFDTruncateAndSplitMatchTRL() throws {
        // max_length 48 is shorter than every yoda conversation: "bfd" truncates them, "bfd_split" splits them.
        let source = try TRLFixture("conv_padding_free")
        for (name, strategy) in [("conv_packing_bfd48", PackingStrategy.bfd), ("conv_packing_bfd_split48", .bfdSplit)] {
            let f = try TRLFixture(name)
            let packed = try Packing.pack(source.examples, seqLength: 48, strategy: strategy, eosTokenId: 2)
            XCTAssertEqual(packed, f.examples, name)
            XCTAssertEqual(try collateAll(LanguageModelingCollator(padTokenId: f.padTokenId!, paddingFree: true), packed), f.batches, name)
        }
    }

    func testWrappedPackingMatchesTRL() throws {
        let source = try TRLFixture("conv_padding_free")
        let f = try TRLFixture("conv_packing_wrapped")
        let packed = try Packing.pack(source.examples, seqLength: 128, strategy: .wrapped, eosTokenId: 2)
        XCTAssertEqual(packed.map(\.inputIds), f.examples.map(\.inputIds))
        XCTAssertEqual(packed.map(\.labels), f.examples.map(\.labels))
        XCTAssertEqual(try collateAll(LanguageModelingCollator(padTokenId: f.padTokenId!), packed), f.batches)
    }

    func testFlatteningCollatorMatchesTransformers() throws {
        let f = try TRLFixture("flattening")
        XCTAssertEqual(try collateAll(FlatteningCollator(useExampleLabels: false), f.examples), f.batches)
    }
}
