// swift-tools-version: 6.0
import PackageDescription

// Release builds drop exclusivity checks: the numeric kernels work on unsafe buffers and pay for them otherwise.
let fast: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "SwiftTune",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "swifttune", targets: ["swifttune"]),
        .executable(name: "swifttune-bench", targets: ["swifttune-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS through pkg-config (Debian: libopenblas-dev).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // Our AVX-512 sgemm for the engine's products (OpenBLAS stays the fallback and runs the attention tiles).
        .target(name: "CGEMM", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Tensors", dependencies: ["CBLAS", "CGEMM"], exclude: ["Kernels/README.md"], swiftSettings: fast),
        // Decode-time kernels with AVX-512 (VNNI)/AVX2 variants picked at run time, since Swift builds for
        // baseline x86-64: quantised-weight dot products and the one-query attention of a decode step.
        .target(name: "CQuantKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Quantization", dependencies: ["Tensors", "CQuantKernels"], swiftSettings: fast),
        // JSON in and out for every module that reads or writes it (no dependencies).
        .target(name: "JSONCore", swiftSettings: fast),
        .target(name: "ModelIO", dependencies: ["Tensors", "Quantization", "JSONCore"], swiftSettings: fast),
        .target(name: "Tokenizers", dependencies: ["ModelIO", "JSONCore"], swiftSettings: fast),
        .target(name: "ChatTemplates", dependencies: ["JSONCore"], swiftSettings: fast),
        .target(name: "Datasets", dependencies: ["Tokenizers", "ChatTemplates", "JSONCore"], swiftSettings: fast),
        .target(name: "Models", dependencies: ["Tensors", "Quantization", "CQuantKernels", "ModelIO"], swiftSettings: fast),
        .target(name: "Generation", dependencies: ["Models"], swiftSettings: fast),
        .target(name: "LoRA", dependencies: ["Models", "ModelIO", "Tensors", "JSONCore"], swiftSettings: fast),
        .target(name: "Training", dependencies: ["Models", "LoRA", "Datasets", "Tokenizers", "ChatTemplates", "ModelIO", "Tensors"],
                swiftSettings: fast),
        .executableTarget(
            name: "swifttune",
            dependencies: ["Tensors", "Quantization", "ModelIO", "Tokenizers", "ChatTemplates", "Datasets", "CBLAS",
                           "Models", "Generation", "LoRA", "Training",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fast),
        .executableTarget(
            name: "swifttune-bench",
            dependencies: ["Tensors", "Tokenizers", "CBLAS", "Models", "Generation", "Quantization", "LoRA", "Training"],
            path: "Benchmarks/swifttune-bench", swiftSettings: fast),
        .testTarget(name: "JSONCoreTests", dependencies: ["JSONCore"], exclude: ["Fixtures"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "CGEMM", "CBLAS"], resources: [.copy("Fixtures")]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], exclude: ["Fixtures"]),
        .testTarget(name: "ChatTemplatesTests", dependencies: ["ChatTemplates"], exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"], exclude: ["Fixtures"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GenerationTests", dependencies: ["Generation"]),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "Models", "ModelIO", "Tensors", "Generation"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Models", "LoRA", "Datasets", "Tensors", "Tokenizers", "ModelIO"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
