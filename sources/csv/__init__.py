"""One-stop dossier exports (CSV) turned into events (docs/csv-import.md)."""
