"""Chat handlers: parse what was written, call one service, render a template, queue the reply."""
