"""osimage: the thin driver of the osimage.builder collection."""

__version__ = '0.6.0'
