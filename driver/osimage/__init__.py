"""osimage: the thin driver of the osimage.builder collection."""
