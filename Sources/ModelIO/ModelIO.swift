/// Reading and writing model files: safetensors, GGUF, Hugging Face folders.
public enum ModelIO {}
