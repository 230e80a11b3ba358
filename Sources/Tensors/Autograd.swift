import Foundation

/// One recorded op on the autograd tape. It holds the closure that maps the gradient of its output to
/// gradients of its inputs (the closure captures the tensors saved for backward), and an edge per input.
/// Inputs themselves are not retained (only the nodes that produced them, or leaf parameters), so
/// intermediate activations live only as long as some closure still needs them.
final class GradNode {
    enum Edge {
        case none
        case node(GradNode)
        case leaf(Tensor)
    }
    let name: String
    var edges: [Edge]
    var backwardFn: ((Tensor) -> [Tensor?])?
    /// Gradient of this node's output, summed over its consumers during a backward pass.
    var pendingGrad: Tensor?
    let outputShape: [Int]

    init(name: String, edges: [Edge], outputShape: [Int], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.edges = edges
        self.outputShape = outputShape
        self.backwardFn = backward
    }
}

/// Gradient recording switch (`withNoGrad`). Process-wide, like a training loop expects; not meant to be
/// toggled from several threads at once.
enum GradMode {
    nonisolated(unsafe) static var disabledDepth = 0
    static var isEnabled: Bool { disabledDepth == 0 }
}

/// Runs `body` without recording ops on the autograd tape (inference, optimizer updates).
@discardableResult
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    GradMode.disabledDepth += 1
    defer { GradMode.disabledDepth -= 1 }
    return try body()
}

/// Whether ops are currently recorded (false inside `withNoGrad`).
public var isGradEnabled: Bool { GradMode.isEnabled }

extension Tensor {
    /// Marks this leaf as trainable and returns it (for chaining: `Tensor.randn(...).requiringGrad()`).
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        requiresGrad = flag
        return self
    }

    /// A tensor sharing this one's data but cut from the graph (a leaf with `requiresGrad == false`).
    public func detach() -> Tensor {
        Tensor(storage: storage, dtype: dtype, shape: shape, strides: strides, offset: offset)
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// Records an op producing `out` from `inputs` if any input requires grad and recording is on.
    /// `backward` maps d(out) to one gradient per input (nil where none flows), each shaped like that input.
    @discardableResult
    static func record(_ name: String, _ out: Tensor, _ inputs: [Tensor],
                       _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0._requiresGrad }) else { return out }
        let edges: [GradNode.Edge] = inputs.map { t in
            if !t._requiresGrad { return .none }
            if let n = t.gradFn { return .node(n) }
            return .leaf(t)
        }
        out._requiresGrad = true
        out.gradFn = GradNode(name: name, edges: edges, outputShape: out.shape, backward: backward)
        return out
    }

    /// Back-propagates from this tensor. Without `gradient` the tensor must hold one element (a loss) and the
    /// seed gradient is 1. Gradients accumulate (+=) into the `grad` of every leaf that requires grad.
    /// The graph is freed as it is walked (each node's saved tensors are released right after it runs)
    /// unless `retainGraph` is true.
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) {
        precondition(_requiresGrad, "backward(): tensor does not require grad (no parameter with requiresGrad feeds it)")
        let seed: Tensor
        if let g = gradient {
            precondition(g.shape == shape, "backward(gradient:): gradient shape \(g.shape) != tensor shape \(shape)")
            seed = g.asF32()
        } else {
            precondition(count == 1, "backward(): implicit gradient needs a one-element tensor, got shape \(shape); pass gradient:")
            seed = Tensor.full(shape, 1)
        }
        // Backward closures use ordinary ops; they must not record a second-order graph.
        GradMode.disabledDepth += 1
        defer { GradMode.disabledDepth -= 1 }
        guard let root = gradFn else {
            Tensor.accumulateLeaf(self, seed)
            return
        }
        // Iterative post-order DFS → reverse topological order (deep graphs must not overflow the stack).
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while !stack.isEmpty {
            let (node, i) = stack[stack.count - 1]
            if i < node.edges.count {
                stack[stack.count - 1].1 = i + 1
                if case .node(let child) = node.edges[i], !visited.contains(ObjectIdentifier(child)) {
                    visited.insert(ObjectIdentifier(child))
                    stack.append((child, 0))
                }
            } else {
                order.append(node)
                stack.removeLast()
            }
        }
        root.pendingGrad = seed
        for node in order.reversed() {
            var g = node.pendingGrad
            guard g != nil else { continue }
            node.pendingGrad = nil
            guard let fn = node.backwardFn else {
                preconditionFailure("backward(): the graph through '\(node.name)' was already freed by an earlier backward(); pass retainGraph: true to the first call")
            }
            var grads = fn(g!)
            g = nil   // a gradient passed through as a view of g's storage can then be found unshared below
            if !retainGraph { node.backwardFn = nil }
            for (i, edge) in node.edges.enumerated() where i < grads.count {
                // Move the gradient out of the array so that a fresh one is uniquely referenced here.
                guard var gi = grads[i] else { continue }
                grads[i] = nil
                switch edge {
                case .none: break
                case .leaf(let t): Tensor.accumulateLeaf(t, &gi)
                case .node(let n):
                    if var p = n.pendingGrad {
                        n.pendingGrad = nil
                        if Tensor.isExclusiveDenseF32(&p) && p.shape == gi.shape {
                            p.addInPlaceRaw(gi)   // no other tensor sees p: sum in place, no new buffer
                            n.pendingGrad = p
                        } else {
                            n.pendingGrad = p.addingForGrad(gi)
                        }
                    } else {
                        n.pendingGrad = gi
                    }
                }
            }
            if !retainGraph { node.edges = [] }
        }
        // Nodes that received no gradient (e.g. a branch whose output was unused) are freed too.
        if !retainGraph { for node in order { node.backwardFn = nil; node.edges = [] } }
    }

    static func accumulateLeaf(_ t: Tensor, _ g: Tensor) {
        var g = g
        accumulateLeaf(t, &g)
    }

    /// Adds `g` into `t.grad`. When `t` has no grad yet and `g` is a dense float32 tensor that nothing else
    /// references (a fresh result of a backward closure), `g` itself becomes the grad instead of a copy.
    static func accumulateLeaf(_ t: Tensor, _ g: inout Tensor) {
        precondition(g.shape == t.shape, "internal: gradient shape \(g.shape) for leaf of shape \(t.shape)")
        if let existing = t.grad {
            existing.addInPlaceRaw(g)
        } else if isExclusiveDenseF32(&g) && g.gradFn == nil && !g._requiresGrad {
            t.grad = g
        } else {
            // Own a fresh contiguous copy: `g` may alias storage another gradient also points at.
            let c = Tensor(uninitialized: g.shape, dtype: .float32)
            stridedCopy(from: g, to: c)
            t.grad = c
        }
    }

    /// Whether `t` is the only reference to itself and to its storage (so mutating it in place cannot be
    /// observed elsewhere), owns that storage, and views all of it as contiguous float32.
    static func isExclusiveDenseF32(_ t: inout Tensor) -> Bool {
        guard t.dtype == .float32, t.offset == 0, t.isContiguous, t.storage.owner == nil,
              t.count * 4 == t.storage.byteCount else { return false }
        return isKnownUniquelyReferenced(&t) && isKnownUniquelyReferenced(&t.storage)
    }

    /// Sum of two gradients (no recording).
    func addingForGrad(_ other: Tensor) -> Tensor {
        withNoGrad { self + other }
    }
}
