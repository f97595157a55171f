__version__ = "see package metadata"
