/// A Jinja2 engine that renders chat templates exactly as transformers does.
public enum ChatTemplatesModule {}
