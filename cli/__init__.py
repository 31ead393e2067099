"""Command-line interfaces: thin click commands that parse options and call library functions."""
