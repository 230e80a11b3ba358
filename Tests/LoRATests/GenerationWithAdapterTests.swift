import Foundation
import Generation
import LoRA
import Models
import Tensors
import XCTest

/// Decoding through an adapter (how `generate --adapter` uses this module): greedy tokens with the
/// unmerged adapter (linear hooks + `withAdapters` for the embedding LoRA) equal those of the merged model.
final class GenerationWithAdapterTests: XCTestCase {
    func testGreedyTokensUnmergedEqualMerged() throws {
        for c in ["embedding", "dora", "modules-to-save", "phi3-fused"] {
            let baseName = try Fixtures.baseName(ofCase: c)
            let peft = try LoRA.loadAdapter(from: Fixtures.folder(c), into: try Fixtures.loadBase(baseName))
            peft.eval()
            let cfg = GenerationConfig(maxNewTokens: 12)
            let prompt = [5, 9, 17, 33]
            let unmerged = try peft.withAdapters { try Generator(model: peft.base).generate(promptIds: prompt, config: cfg) }
            let plain = try Generator(model: try Fixtures.loadBase(baseName)).generate(promptIds: prompt, config: cfg)
            let merged = try Generator(model: try peft.mergeAndUnload()).generate(promptIds: prompt, config: cfg)
            XCTAssertEqual(unmerged.tokens, merged.tokens, "\(c)")
            XCTAssertEqual(unmerged.tokens.count, 12, "\(c)")
            XCTAssertNotEqual(unmerged.tokens, plain.tokens, "\(c): the adapter changes the generation")
        }
    }
}
