"""Default plugins, registered through the same hooks as any third-party plugin."""

# Module names under crmlite.builtin, registered in this order as "builtin.<name>".
BUILTINS: list[str] = [
    "smtp_sender",
    "outbox_sender",
    "csv_importer",
    "csv_exporter",
    "lifecycle_segments",
    "matchers",
    "data_review",
]
