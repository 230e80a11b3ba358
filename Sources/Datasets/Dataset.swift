import Foundation

/// One record of a dataset: an ordered mapping column → value.
public typealias Row = JSONObject

/// An in-memory table of rows with the column operations of Hugging Face `datasets`
/// (`rename_column`, `remove_columns`, `select_columns`, `map`, `filter`, `shuffle(seed)`, `train_test_split`).
///
/// Rows need not all have every column (JSONL rarely does); `columnNames` is the union in first-seen order.
public struct Dataset: Sendable {
    public private(set) var rows: [Row]
    public private(set) var columnNames: [String]
    /// File the rows were loaded from (nil when built in memory), for error messages.
    public var sourceFile: String?
    /// Per row, its 1-based line in `sourceFile` (0 when unknown); kept through filter/shuffle/split.
    public private(set) var sourceLines: [Int]

    public init(rows: [Row], sourceFile: String? = nil, sourceLines: [Int]? = nil) {
        self.rows = rows
        self.sourceFile = sourceFile
        self.sourceLines = (sourceLines?.count == rows.count) ? sourceLines! : Array(repeating: 0, count: rows.count)
        var seen = Set<String>()
        var names: [String] = []
        for r in rows { for k in r.keys where !seen.contains(k) { seen.insert(k); names.append(k) } }
        self.columnNames = names
    }

    public var count: Int { rows.count }
    public subscript(i: Int) -> Row { rows[i] }

    /// "file.jsonl:12" for row `i`, or "row 12" when the origin is unknown.
    public func origin(of i: Int) -> String {
        guard i >= 0, i < sourceLines.count else { return "row \(i)" }
        if let f = sourceFile, sourceLines[i] > 0 { return "\(f):\(sourceLines[i])" }
        return "row \(i)"
    }

    private func with(rows newRows: [Row], lines: [Int]) -> Dataset {
        Dataset(rows: newRows, sourceFile: sourceFile, sourceLines: lines)
    }

    /// `rename_column(old, new)`. Fails when `old` is missing or `new` already exists (as `datasets` does).
    public func renameColumn(_ old: String, to new: String) throws -> Dataset {
        guard columnNames.contains(old) else {
            throw DatasetError.invalidArgument("rename_column: no column '\(old)'; the columns are \(columnNames)")
        }
        guard old == new || !columnNames.contains(new) else {
            throw DatasetError.invalidArgument("rename_column: column '\(new)' already exists; remove it first")
        }
        return with(rows: rows.map { r in
            var out = Row()
            for (k, v) in r { out[k == old ? new : k] = v }
            return out
        }, lines: sourceLines)
    }

    /// `rename_columns({old: new, ...})`, applied one after the other in the mapping's key order.
    public func renameColumns(_ mapping: [(String, String)]) throws -> Dataset {
        var d = self
        for (o, n) in mapping { d = try d.renameColumn(o, to: n) }
        return d
    }

    /// `remove_columns([...])`.
    public func removeColumns(_ names: [String]) throws -> Dataset {
        let missing = names.filter { !columnNames.contains($0) }
        guard missing.isEmpty else {
            throw DatasetError.invalidArgument("remove_columns: no column(s) \(missing); the columns are \(columnNames)")
        }
        let drop = Set(names)
        return with(rows: rows.map { r in
            var out = Row()
            for (k, v) in r where !drop.contains(k) { out[k] = v }
            return out
        }, lines: sourceLines)
    }

    /// `select_columns([...])`: keeps only these, in this order.
    public func selectColumns(_ names: [String]) throws -> Dataset {
        let missing = names.filter { !columnNames.contains($0) }
        guard missing.isEmpty else {
            throw DatasetError.invalidArgument("select_columns: no column(s) \(missing); the columns are \(columnNames)")
        }
        return with(rows: rows.map { r in
            var out = Row()
            for k in names { if let v = r[k] { out[k] = v } }
            return out
        }, lines: sourceLines)
    }

    /// `map(fn)`: the closure returns the new row (return a modified copy to add or change columns).
    public func map(_ transform: (Row) throws -> Row) rethrows -> Dataset {
        with(rows: try rows.map(transform), lines: sourceLines)
    }

    /// `filter(fn)`.
    public func filter(_ keep: (Row) throws -> Bool) rethrows -> Dataset {
        var r: [Row] = [], l: [Int] = []
        for (i, row) in rows.enumerated() where try keep(row) { r.append(row); l.append(sourceLines[i]) }
        return with(rows: r, lines: l)
    }

    /// `select(range)` / first n rows.
    public func prefix(_ n: Int) -> Dataset {
        with(rows: Array(rows.prefix(max(0, n))), lines: Array(sourceLines.prefix(max(0, n))))
    }

    /// Rows at these indices, in this order.
    public func select(_ indices: [Int]) -> Dataset {
        let ok = indices.filter { $0 >= 0 && $0 < rows.count }
        return with(rows: ok.map { rows[$0] }, lines: ok.map { sourceLines[$0] })
    }

    /// `shuffle(seed)`: a deterministic Fisher–Yates permutation driven by SplitMix64.
    /// Reproducible across runs and machines, but not the same order as `datasets` (which uses NumPy's PCG64).
    public func shuffled(seed: UInt64) -> Dataset {
        var d = select(Dataset.permutation(count: rows.count, seed: seed))
        d.columnNames = columnNames
        return d
    }

    /// `train_test_split(test_size, seed)`: `testSize` is a fraction in (0, 1) or, when ≥ 1, a row count.
    /// Like `datasets`, the test split size is `ceil(fraction × n)` and both splits must be non-empty.
    public func trainTestSplit(testSize: Double, seed: UInt64 = 42, shuffle: Bool = true) throws -> (train: Dataset, test: Dataset) {
        let n = rows.count
        let nTest: Int
        if testSize > 0, testSize < 1 {
            nTest = Int((testSize * Double(n)).rounded(.up))
        } else if testSize >= 1, testSize == testSize.rounded() {
            nTest = Int(testSize)
        } else {
            throw DatasetError.invalidArgument("train_test_split: test_size must be a fraction in (0, 1) or a whole row count, got \(testSize)")
        }
        guard nTest >= 1, nTest < n else {
            throw DatasetError.invalidArgument("train_test_split: test_size \(testSize) of \(n) rows leaves an empty split; use a larger dataset or another test_size")
        }
        let order = shuffle ? Dataset.permutation(count: n, seed: seed) : Array(0..<n)
        return (select(Array(order[0..<(n - nTest)])), select(Array(order[(n - nTest)...])))
    }

    /// The Fisher–Yates permutation of 0..<count that `shuffled(seed:)` applies.
    public static func permutation(count: Int, seed: UInt64) -> [Int] {
        var out = Array(0..<max(0, count))
        var rng = SplitMix64(seed: seed)
        if out.count > 1 {
            for i in stride(from: out.count - 1, to: 0, by: -1) {
                out.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
        }
        return out
    }
}

/// SplitMix64 (Steele et al.): tiny, fast and good enough for shuffling.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
