import Foundation

/// Errors from configuring, applying, loading, saving or merging LoRA adapters. Messages say what was
/// found, what was expected and how to fix it.
public enum LoRAError: Error, CustomStringConvertible, Equatable {
    /// A LoraConfig field has a bad value (`field` is its adapter_config.json key).
    case invalidConfig(field: String, String)
    /// No module matched, or the architecture has no default targets.
    case noTargets(String)
    /// An adapter folder or file does not fit the base model (missing or unexpected keys, shapes).
    case invalidAdapter(file: String, String)
    /// An adapter name is unknown, or already used.
    case adapterName(String)
    /// The operation is not supported for this model/adapter combination.
    case unsupported(String)

    public var description: String {
        switch self {
        case .invalidConfig(let f, let m): return "invalid LoRA config: field '\(f)': \(m)"
        case .noTargets(let m): return m
        case .invalidAdapter(let file, let m): return "invalid adapter \(file): \(m)"
        case .adapterName(let m): return "adapter: \(m)"
        case .unsupported(let m): return "unsupported: \(m)"
        }
    }
}

/// A Python-`re`-compatible (for the usual subset) regular expression over module names.
struct LoRARegex {
    let re: NSRegularExpression
    init(_ pattern: String, field: String) throws {
        do { re = try NSRegularExpression(pattern: pattern) } catch {
            throw LoRAError.invalidConfig(field: field, "'\(pattern)' is not a valid regular expression")
        }
    }
    /// `re.fullmatch(pattern, s)`.
    static func fullMatch(_ pattern: String, _ s: String) -> Bool {
        guard let r = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$") else { return false }
        let ns = s as NSString
        guard let m = r.firstMatch(in: s, range: NSRange(location: 0, length: ns.length)) else { return false }
        return m.range.location == 0 && m.range.length == ns.length
    }
    /// `re.match(pattern, s)` (anchored at the start only); returns the capture groups.
    static func match(_ pattern: String, _ s: String) -> [String?]? {
        guard let r = try? NSRegularExpression(pattern: "^(?:" + pattern + ")") else { return nil }
        let ns = s as NSString
        guard let m = r.firstMatch(in: s, range: NSRange(location: 0, length: ns.length)) else { return nil }
        return (0..<m.numberOfRanges).map { i in
            let rg = m.range(at: i)
            return rg.location == NSNotFound ? nil : ns.substring(with: rg)
        }
    }
}
