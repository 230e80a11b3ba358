// Training module: SFT trainer.
