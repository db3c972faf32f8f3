"""WTForms classes."""
