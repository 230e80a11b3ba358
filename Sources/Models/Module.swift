import Tensors

/// A trainable tensor slot. The box lets a loader (or an optimizer, or LoRA) replace the tensor a
/// layer reads without the layer knowing: layers read `weight.value` at every forward.
public final class Parameter {
    public var value: Tensor
    public init(_ value: Tensor) { self.value = value }
}

/// A node of a model tree, like `torch.nn.Module`: named parameters, named children, a train/eval
/// mode. Subclasses list their own parameters and children explicitly (no reflection), under the
/// names Hugging Face uses, so `namedParameters()` yields paths such as
/// `model.layers.3.self_attn.q_proj.weight`, exactly the keys of a safetensors checkpoint.
open class Module {
    /// True while training (the default, like torch). Layers with dropout would read it.
    public private(set) var training = true

    public init() {}

    /// This module's own parameters (not its children's), in declaration order.
    open var ownParameters: [(String, Parameter)] { [] }

    /// Direct children with their path components, in declaration order.
    open var children: [(String, Module)] { [] }

    /// Every parameter below this module, keyed by its dotted path (`layers.0.mlp.up_proj.weight`).
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        var out: [(name: String, parameter: Parameter)] = ownParameters.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every module below (and including) this one, keyed by its dotted path ("" for self).
    public func namedModules(prefix: String = "") -> [(name: String, module: Module)] {
        var out: [(name: String, module: Module)] = [(prefix, self)]
        for (name, child) in children {
            out += child.namedModules(prefix: prefix.isEmpty ? name : prefix + "." + name)
        }
        return out
    }

    /// The parameter tensors, in `namedParameters()` order.
    public func parameters() -> [Tensor] { namedParameters().map { $0.parameter.value } }

    /// The parameters that will receive gradients.
    public func trainableParameters() -> [(name: String, parameter: Parameter)] {
        namedParameters().filter { $0.parameter.value.requiresGrad }
    }

    /// Sets `requiresGrad` on every parameter below this module (frozen = false). Only float32
    /// parameters can train; half-precision ones (kept in their stored form) and weights kept in GGUF
    /// blocks (`LoadOptions.keepQuantized`, whose parameter is a NaN placeholder) stay frozen.
    public func setRequiresGrad(_ flag: Bool) {
        for (_, p) in namedParameters() where p.value.isLeaf {
            p.value.requiresGrad = flag && p.value.dtype == .float32 && !QuantizedOps.isPlaceholder(p.value)
        }
    }

    /// Freezes every parameter (`requiresGrad = false`).
    public func freeze() { setRequiresGrad(false) }
    /// Unfreezes every float32 parameter.
    public func unfreeze() { setRequiresGrad(true) }

    /// Switches this module and all below it to training mode.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.training = on }
    }
    /// Switches to evaluation mode (`train(false)`).
    public func eval() { train(false) }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for (_, p) in namedParameters() { p.value.zeroGrad() } }

    /// Number of parameter elements (tied parameters counted once).
    public func parameterCount() -> Int {
        var seen = Set<ObjectIdentifier>(), n = 0
        for (_, p) in namedParameters() where seen.insert(ObjectIdentifier(p)).inserted { n += p.value.count }
        return n
    }
}
