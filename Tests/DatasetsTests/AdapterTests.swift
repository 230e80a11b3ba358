import XCTest
@testable import Datasets

/// The Tokenizers / ChatTemplates adapters.
final class AdapterTests: XCTestCase {
    func testTemplateRendererPassesMessagesAsTransformersDoes() throws {
        let src = "{% for m in messages %}{{ m.role }}:{% if m.content is defined %}{{ m.content }}{% else %}<none>{% endif %}{% if m.tool_calls %}[{{ m.tool_calls[0].function.name }}]{% endif %};{% endfor %}{% if add_generation_prompt %}>{{ eos_token }}{% endif %}"
        let r = try TemplateRenderer(source: src, specialTokens: ["eos_token": "</s>"])
        XCTAssertFalse(r.hasGenerationMarkers)
        let row = try JSONParser.parse(#"[{"role": "user", "content": "hi"}, {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {}}}]}]"#)
        let msgs = try parseMessages(row, field: "messages")
        XCTAssertEqual(try r.render(messages: msgs, addGenerationPrompt: true), "user:hi;assistant:<none>[f];></s>")
    }

    func testTokenizerEncoderIdsOffsetsAndDecode() throws {
        let dir = try TestPaths.requireShared("testdata/tokenizers/smollm2-135m")
        let enc = try TokenizerEncoder(path: dir.path)
        XCTAssertEqual(enc.eosTokenId, 2)
        XCTAssertEqual(enc.unkTokenId, 0)
        let (ids, offsets) = try enc.encodeWithOffsets("<|im_start|>user\nhé<|im_end|>", addSpecialTokens: false)
        XCTAssertEqual(ids.count, offsets.count)
        XCTAssertEqual(offsets.first, 0..<12)
        XCTAssertEqual(enc.decode(ids, skipSpecialTokens: false), "<|im_start|>user\nhé<|im_end|>")
        XCTAssertEqual(enc.decode(ids, skipSpecialTokens: true), "user\nhé")
    }
}
