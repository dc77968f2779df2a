"""Pure rules: validation, pinyin keys, customer classes — no database, no Qt."""
