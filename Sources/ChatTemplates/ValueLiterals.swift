/// Literal syntax for building template variables in Swift:
/// `let msg: Value = ["role": "user", "content": "Hi"]` (dict literals keep their order).
extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: Value...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) { self = .dict(elements) }
    /// `nil` is Python's `None`.
    public init(nilLiteral: ()) { self = .none }
}

extension Value: CustomStringConvertible {
    /// Python's `str()` of the value (what `{{ value }}` prints).
    public var description: String { PyFormat.str(self) }
}
