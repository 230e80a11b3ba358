import Foundation
import JSONCore
import XCTest
@testable import Tokenizers

/// Pipeline pieces checked against values printed by HF `tokenizers` 0.23.3 (the Python calls are
/// quoted next to each expectation).
final class ComponentTests: XCTestCase {
    func pieces(_ pt: PreTokenizer, _ s: String) -> [String] {
        var pl = PieceList(NormalizedString(stringToScalars(s), base: 0))
        pt.preTokenize(&pl)
        return pl.pieces.map { scalarsToString(pl.text.scalars[$0.lo..<$0.hi]) }
    }

    func testSplitBehaviors() {
        // pre_tokenizers.Split(Regex("-"), behavior=b, invert=inv).pre_tokenize_str("a-b--c-")
        let expected: [(SplitBehavior, Bool, [String])] = [
            (.removed, false, ["a", "b", "c"]),
            (.removed, true, ["-", "-", "-", "-"]),
            (.isolated, false, ["a", "-", "b", "-", "-", "c", "-"]),
            (.isolated, true, ["a", "-", "b", "-", "-", "c", "-"]),
            (.mergedWithPrevious, false, ["a-", "b-", "-", "c-"]),
            (.mergedWithPrevious, true, ["a", "-b", "-", "-c", "-"]),
            (.mergedWithNext, false, ["a", "-b", "-", "-c", "-"]),
            (.mergedWithNext, true, ["a-", "b-", "-", "c-"]),
            (.contiguous, false, ["a", "-", "b", "--", "c", "-"]),
            (.contiguous, true, ["a", "-", "b", "--", "c", "-"]),
        ]
        for (b, inv, want) in expected {
            let regex = try! KnownPatterns.matcher(for: "-", field: "test")
            XCTAssertEqual(pieces(SplitPreTokenizer(matcher: regex, behavior: b, invert: inv), "a-b--c-"), want, "\(b) invert=\(inv) (regex)")
            let literal = LiteralMatcher(needle: stringToScalars("-"))
            XCTAssertEqual(pieces(SplitPreTokenizer(matcher: literal, behavior: b, invert: inv), "a-b--c-"), want, "\(b) invert=\(inv) (string)")
        }
    }

    func testOtherPreTokenizers() {
        XCTAssertEqual(pieces(WhitespacePreTokenizer(), "Hello, world!  foo_bar 12"), ["Hello", ",", "world", "!", "foo_bar", "12"])
        XCTAssertEqual(pieces(PunctuationPreTokenizer(behavior: .isolated), "Hi! a.b"), ["Hi", "!", " a", ".", "b"])
        XCTAssertEqual(pieces(DigitsPreTokenizer(individualDigits: false), "ab123cd4"), ["ab", "123", "cd", "4"])
        XCTAssertEqual(pieces(DigitsPreTokenizer(individualDigits: true), "ab123"), ["ab", "1", "2", "3"])
        XCTAssertEqual(pieces(MetaspacePreTokenizer(replacement: 0x2581, prependScheme: .always, split: true), "Hey  you"), ["▁Hey", "▁", "▁you"])
        XCTAssertEqual(pieces(WhitespaceSplitPreTokenizer(), " a \t b\n"), ["a", "b"])
    }

    func testNormalizers() {
        // normalizers.Sequence([NFKC(), Lowercase(), Strip()]).normalize_str("  ＨｅｌｌｏＩ ﬁ ") == "helloi fi"
        var s = NormalizedString(stringToScalars("  ＨｅｌｌｏＩ ﬁ "), base: 0)
        SequenceNormalizer(normalizers: [UnicodeNormalizer(form: .nfkc), LowercaseNormalizer(), StripNormalizer(left: true, right: true)]).normalize(&s)
        XCTAssertEqual(s.string, "helloi fi")
        // Each output scalar still points at the original: "ﬁ" (index 9) became "f", "i".
        XCTAssertEqual(s.spans.suffix(2).map { $0.start }, [9, 9])
        var d = NormalizedString(stringToScalars("é"), base: 0)
        UnicodeNormalizer(form: .nfd).normalize(&d)
        XCTAssertEqual(d.scalars, [0x65, 0x301])
        XCTAssertEqual(d.spans, [Span(start: 0, end: 1), Span(start: 0, end: 1)])
    }

    /// The hand-coded GPT-2 / Llama-3 / Qwen2 splitters against the regex engine on tricky input.
    func testHandCodedSplittersAgreeWithRegex() throws {
        let samples = ["Hello world", "  leading", "trailing   ", "a\n\n b\r\n\tc", "I'M you'LL they'Re 'sup ''", "1234567 x12y 3.14",
                       "emoji 👍🏽 ok", "tab\tsep\t", "naïve café", "   \n  x", "!!!?? ,.;", "x  ", "über 42€", "'", " ", "\n", "a'b"]
        for (name, pattern) in [("gpt2", KnownPatterns.gpt2), ("llama3", KnownPatterns.llama3), ("qwen2", KnownPatterns.qwen2)] {
            let fast = try KnownPatterns.matcher(for: pattern, field: name)
            let slow = try FoundationRegexMatcher(pattern: pattern, field: name)
            for s in samples {
                let sc = stringToScalars(s)
                var a: [(Int, Int)] = [], b: [(Int, Int)] = []
                sc.withUnsafeBufferPointer { fast.findMatches($0, into: &a); slow.findMatches($0, into: &b) }
                XCTAssertEqual(a.map { [$0.0, $0.1] }, b.map { [$0.0, $0.1] }, "\(name): \(s.debugDescription)")
            }
        }
    }

    /// The pre-tokenizer stage alone against `debug.pre_tokens` of the references (Oniguruma's view),
    /// for every short corpus string: this checks \p{L}, \p{N}, \s tables against Oniguruma's.
    func testPreTokensMatchOniguruma() throws {
        for name in ["gpt2", "llama3", "qwen2", "mistral-7b-v0.3"] {
            let tok = try TokenizerCache.shared.get(name)
            let path = try tokenizerDir(name) + "/cases.json"
            let root = try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path)
            var checked = 0, ok = 0
            for d in root["cases"]!.arr {
                guard let debug = d["debug"]?.objectValue else { continue }
                let normalized = debug["normalized"]!.str
                let want = debug["pre_tokens"]!.arr.map { $0.arr[0].str }
                let ns = NormalizedString(stringToScalars(normalized), base: 0)
                if ns.isEmpty { continue }
                var pl = PieceList(ns)
                tok.preTokenizer?.preTokenize(&pl)
                let got = pl.pieces.map { scalarsToString(pl.text.scalars[$0.lo..<$0.hi]) }
                checked += 1
                if exact(got, want) { ok += 1 } else { XCTFail("\(name) \(d["id"]!.str): \(got.prefix(10)) vs \(want.prefix(10))") }
            }
            print("PRETOKENS \(name): \(ok)/\(checked)")
        }
    }

    func testAddedTokenOptions() throws {
        // Tokenizer with added tokens using lstrip / rstrip / single_word on top of GPT-2.
        let base = try tokenizerDir("gpt2") + "/tokenizer.json"
        var json = try String(contentsOfFile: base, encoding: .utf8)
        let extra = """
        "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
          {"id": 50257, "content": "<L>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true},
          {"id": 50258, "content": "<R>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": true},
          {"id": 50259, "content": "cat", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false}],
        """
        let range = json.range(of: #""added_tokens":\s*\[[^\]]*\],"#, options: .regularExpression)!
        json.replaceSubrange(range, with: extra)
        let tok = try Tokenizer(tokenizerJSON: Data(json.utf8))
        // lstrip eats the spaces before <L>, rstrip the ones after <R>; as in `tokenizers`
        // (t.add_special_tokens([AddedToken("<L>", lstrip=True), ...]) the token strings include them.
        let e = tok.encode("a  <L>b<R>  c", addSpecialTokens: false)
        XCTAssertEqual(e.tokens, ["a", "  <L>", "b", "<R>  ", "c"])
        XCTAssertEqual(e.ids, [64, 50257, 65, 50258, 66])
        XCTAssertEqual(e.offsets[1], TokenOffset(1, 6))
        XCTAssertEqual(e.offsets[3], TokenOffset(7, 12))
        // single_word: "cat" only as a whole word.
        XCTAssertEqual(tok.encode("a cat sat", addSpecialTokens: false).ids.filter { $0 == 50259 }.count, 1)
        XCTAssertEqual(tok.encode("concatenate", addSpecialTokens: false).ids.filter { $0 == 50259 }.count, 0)
        XCTAssertEqual(tok.tokenToId("<R>"), 50258)
        XCTAssertEqual(tok.idToToken(50257), "<L>")
        XCTAssertEqual(tok.decode([50257, 64], skipSpecialTokens: true), "a")
    }

    func testTruncationAndPadding() throws {
        let tok = try TokenizerCache.shared.get("llama2")
        var e = tok.encode("Hello world, how are you today?")
        let n = e.count
        e.truncate(maxLength: 4, stride: 1)
        XCTAssertEqual(e.count, 4)
        XCTAssertEqual(e.overflowing.first?.count, min(4, n - 3))
        e.pad(to: 6, padId: 0, padToken: "<unk>", direction: .left)
        XCTAssertEqual(e.ids.prefix(2), [0, 0])
        XCTAssertEqual(e.attentionMask, [0, 0, 1, 1, 1, 1])
        let batch = tok.encodeBatch(["a", "a longer sentence here"], padding: PaddingParams(padId: 0, padToken: "<unk>"))
        XCTAssertEqual(batch[0].count, batch[1].count)
        XCTAssertEqual(batch[0].attentionMask.filter { $0 == 0 }.count, batch[1].count - tok.encode("a").count)
    }

    func testSpecialTokensFromConfig() throws {
        let l2 = try TokenizerCache.shared.get("llama2")
        XCTAssertEqual(l2.bosToken, "<s>")
        XCTAssertEqual(l2.bosTokenId, 1)
        XCTAssertEqual(l2.eosTokenId, 2)
        XCTAssertEqual(l2.addBosToken, true)
        let q = try TokenizerCache.shared.get("qwen2")
        XCTAssertEqual(q.padToken, "<|endoftext|>")
        XCTAssertEqual(q.eosTokenId, 151643)
        XCTAssertNil(q.bosToken)
        let s = try TokenizerCache.shared.get("smollm2-135m")
        XCTAssertNotNil(s.chatTemplate)
        XCTAssertEqual(s.vocabSize, 49152)
    }

    func testConcurrentEncodesAgree() throws {
        let tok = try TokenizerCache.shared.get("qwen2")
        let cases = try loadCases("qwen2").filter { $0.id.hasPrefix("paragraph") }
        var results = [[Int]](repeating: [], count: cases.count * 4)
        results.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: cases.count * 4) { i in
                (base + i).pointee = tok.encode(cases[i % cases.count].text, addSpecialTokens: false).ids
            }
        }
        for (i, r) in results.enumerated() { XCTAssertEqual(r, cases[i % cases.count].ids) }
    }

    func testWordPiece() throws {
        let json = """
        {"version": "1.0", "added_tokens": [{"id": 0, "content": "[UNK]", "special": true, "normalized": false},
          {"id": 1, "content": "[CLS]", "special": true, "normalized": false}, {"id": 2, "content": "[SEP]", "special": true, "normalized": false}],
         "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
         "pre_tokenizer": {"type": "BertPreTokenizer"},
         "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
         "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                   "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "un": 3, "##aff": 4, "##able": 5, "hello": 6, "!": 7, "cafe": 8}}}
        """
        let tok = try Tokenizer(tokenizerJSON: Data(json.utf8))
        let e = tok.encode("UNAFFABLE hello! Café xyz")
        XCTAssertEqual(e.tokens, ["[CLS]", "un", "##aff", "##able", "hello", "!", "cafe", "[UNK]", "[SEP]"])
        XCTAssertEqual(e.offsets[1...3].map { [$0.start, $0.end] }, [[0, 2], [2, 5], [5, 9]])
        XCTAssertEqual(e.offsets.map { [$0.start, $0.end] },
                       [[0, 0], [0, 2], [2, 5], [5, 9], [10, 15], [15, 16], [17, 21], [22, 25], [0, 0]])
        // [UNK] is a special added token, so skip_special_tokens drops it too.
        XCTAssertEqual(tok.decode(e.ids, skipSpecialTokens: true), "unaffable hello! cafe")
        XCTAssertEqual(tok.decode(e.ids), "[CLS] unaffable hello! cafe [UNK] [SEP]")
    }
}
