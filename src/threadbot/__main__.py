from threadbot.cli import run

run()
