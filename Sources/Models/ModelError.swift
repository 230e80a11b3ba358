/// Errors from building or loading a model, or from bad inputs to it. Messages say what was found,
/// what was expected and, where it helps, what to do.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// A config field is missing or has a bad value (`field` is its config.json / GGUF key).
    case invalidConfig(field: String, String)
    /// The architecture (config `model_type` or GGUF `general.architecture`) is not implemented.
    case unsupportedArchitecture(String)
    /// A tensor the model needs is not in the checkpoint.
    case missingTensor(name: String, file: String)
    /// A checkpoint tensor's shape differs from the model's parameter.
    case shapeMismatch(name: String, expected: [Int], found: [Int], file: String)
    /// A checkpoint file is malformed.
    case invalidFile(file: String, String)
    /// A call received inputs it cannot use (ids out of range, inconsistent shapes).
    case invalidInput(String)

    public var description: String {
        switch self {
        case .invalidConfig(let field, let m): return "invalid model config: field '\(field)': \(m)"
        case .unsupportedArchitecture(let m): return "unsupported architecture: \(m)"
        case .missingTensor(let name, let file):
            return "missing tensor '\(name)' in \(file): the checkpoint does not match the config (wrong model_type, or an incomplete download?)"
        case .shapeMismatch(let name, let e, let f, let file):
            return "shape mismatch for '\(name)' in \(file): the model expects \(e), the checkpoint holds \(f); check config.json against the weights"
        case .invalidFile(let file, let m): return "invalid model file \(file): \(m)"
        case .invalidInput(let m): return "invalid model input: \(m)"
        }
    }
}
