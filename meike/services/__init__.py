"""Use cases of the clinic, one module per desk. Each takes the clinic and the acting user."""
