"""Import presets: mapping YAML files for common public export layouts."""
