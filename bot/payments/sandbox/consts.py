"""The sandbox provider's names, written once."""

NAME = "sandbox"
