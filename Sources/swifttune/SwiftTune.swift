import ArgumentParser


struct SwiftTune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swifttune",
        abstract: "Fine-tune, chat with, export and serve language models — Swift-native, no Python.",
        version: SwiftTuneVersion.string,
        subcommands: [Env.self, Template.self, DataCommand.self, Merge.self, Tokenize.self, Detokenize.self, Train.self])
}

enum SwiftTuneVersion {
    static let string = "0.1.0"
}
