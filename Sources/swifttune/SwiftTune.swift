import ArgumentParser

/// The `swifttune` command: one subcommand per step of the book's workflow.
struct SwiftTune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swifttune",
        abstract: "Fine-tune, chat with, export and serve language models — Swift-native, no Python.",
        version: SwiftTuneVersion.string,
        subcommands: [
            Train.self,
            Generate.self, Chat.self, Merge.self,
            Inspect.self,
            Tokenize.self, Detokenize.self, Template.self,
            DataCommand.self,
            Demo.self, Env.self,
        ])
}

enum SwiftTuneVersion {
    static let string = "0.1.0"
}
