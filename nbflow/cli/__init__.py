"""The ``nbflow`` command line: each command parses arguments and makes one library call."""
