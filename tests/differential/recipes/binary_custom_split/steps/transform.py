def transformer_fn():
    return None
