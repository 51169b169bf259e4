"""Data in: caption tables, photo folders, posts, user labels, photos and captions.

Each module reads one kind of input and validates it; every problem is a one-line
``DataError`` naming the file and line (or the request's record) and what was expected.
"""
