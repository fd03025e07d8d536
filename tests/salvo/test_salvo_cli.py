import subprocess
import sys

from salvo.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "salvo" in out


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "salvo.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "salvo" in r.stdout
