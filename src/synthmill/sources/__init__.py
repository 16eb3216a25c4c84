"""Where pipelines start: files on disk, or numbered slots for generators to fill."""
