"""A test-only plugin with a misspelled hook: crmlite must refuse to start and name it."""

from crmlite import hookimpl


@hookimpl
def contact_savd(contact, created):  # should be contact_saved
    raise AssertionError("never called")
