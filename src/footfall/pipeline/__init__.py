"""The pipeline package: enrichment steps and the writer moving queued events into the store."""

from footfall.pipeline.writer import Writer

__all__ = ["Writer"]
