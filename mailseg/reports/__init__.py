"""Read-only reports the panel shows: plain query functions (session + values in, values out)."""
