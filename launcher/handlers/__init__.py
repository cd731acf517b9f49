"""HTTP handlers, one module per resource; each exports ``default_handlers``."""
