"""`python -m mailseg` is the `mailseg` command."""

from .cli import main

main()
