"""`python -m stack up|down|status|logs`: the same commands as `motcua stack ...`, usable on their own."""

from stack.cli import stack_app

stack_app(prog_name="python -m stack")
