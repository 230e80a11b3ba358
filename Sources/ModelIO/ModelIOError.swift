/// An error reading or writing a model file. Its description names the file, the tensor or metadata key,
/// what was found against what was expected, and how to fix it.
public struct ModelIOError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The file could not be opened, read, mapped or written.
        case io
        /// The file ends before the structure it announces.
        case truncated
        /// The header or metadata is not what the format requires.
        case malformed
        /// A tensor's description (type, shape, offsets) is inconsistent.
        case invalidTensor
        /// Valid for the format, but not supported here.
        case unsupported
        /// A requested tensor or key does not exist.
        case missing
        /// A key or tensor exists with another type than the one asked for.
        case typeMismatch
    }

    public var kind: Kind
    /// The file (or display name of an in-memory buffer).
    public var file: String
    /// The tensor name or metadata key concerned, if any.
    public var item: String?
    /// What was found, and what was expected.
    public var problem: String
    /// What the user can do about it.
    public var fix: String

    public init(_ kind: Kind, file: String, item: String? = nil, _ problem: String, fix: String) {
        self.kind = kind
        self.file = file
        self.item = item
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        var s = file
        if let item { s += ": '\(item)'" }
        s += ": \(problem)"
        if !fix.isEmpty { s += ". Fix: \(fix)" }
        return s
    }
}
