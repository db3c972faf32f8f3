"""Domain logic. Functions take a SQLAlchemy session; nothing here imports flask."""
