"""One module per recipe step: its config model, its assets and its card sections."""
