/// # Datasets
///
/// Chapter 4 of the book ("Formatting Your Dataset") as a library, producing exactly what TRL 1.x's
/// `SFTTrainer` produces:
///
/// 1. `DatasetLoader` reads JSONL / JSON / CSV / text into a `Dataset` (column operations: rename, remove,
///    select, map, filter, shuffle, train_test_split); malformed records are listed with file, line and field.
/// 2. `DatasetFormat` detects conversational / prompt-completion / language-modelling rows as TRL does;
///    `FormattingTemplate` is the config-file `formatting_func`.
/// 3. `SFTPreparer` tokenizes through the chat template (`ChatRendering`, `TextEncoding`), builds labels
///    (completion-only, assistant-only), truncates and packs (`Packing`: bfd, bfd_split, wrapped, constant_length).
/// 4. Collators: `LanguageModelingCollator` (TRL, incl. padding-free), `FlatteningCollator` (transformers),
///    `CompletionOnlyCollator` (the book's response/instruction-template collator).
/// 5. `DataValidation` and `DataDiagnostic`: PAD/EOS, max length, padding side, empty/all-masked examples.
/// 6. `DatasetConfig` + `DataPipeline`: what `swifttune data preview|dump` runs.
///
/// The tokenizer and template come in through `TokenizerEncoder` and `TemplateRenderer` (ModelAdapters.swift).
public enum DatasetsModule {}
