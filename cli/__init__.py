"""Thin click commands: parse options, call the packages, render with rich."""
