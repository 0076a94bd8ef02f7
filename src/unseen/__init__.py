"""unseen: online, real-time removal of objects from video."""

__version__ = "0.1.0"
