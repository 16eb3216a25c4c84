"""Curation: filters and deduplication that decide which rows are worth training on."""
