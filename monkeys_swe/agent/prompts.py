"""What the agent model is told, and how its replies and the sandbox's outputs are framed.

In the spirit of mini-swe-agent: a short system message with the output rules, the issue with
a few worked command examples, then one shell command per reply. Every command runs in a fresh
`bash -c` in /testbed (only the files carry over), and the model submits by running
`echo MONKEYS_SWE_SUBMIT` (or just `submit`).
"""
from __future__ import annotations

import re

SUBMIT_MARKER = "MONKEYS_SWE_SUBMIT"
# A bare `submit` is accepted too: small models often write the word rather than the echo.
SUBMIT_COMMANDS = {"submit", f"echo {SUBMIT_MARKER}", f"echo '{SUBMIT_MARKER}'", f'echo "{SUBMIT_MARKER}"'}

SYSTEM = """You are a software engineer fixing an issue in a repository, using a Linux shell.

Every reply must contain a short THOUGHT explaining your reasoning, then exactly ONE shell command in a
```bash fenced block (several commands may be joined with && or ||). Replies with no block or with more
than one block are rejected. Each command runs in a new shell in /testbed: `cd` and variables do not
persist. There is no network access and no interactive input."""

INSTANCE = """Fix this issue in the repository at /testbed:

<issue>
{problem_statement}
</issue>

Work step by step: find and read the relevant code, edit the source (not the tests) to fix the issue,
check your fix, then submit by running `echo {submit}` on its own. After submitting you cannot continue.

Useful commands:
```bash
grep -rn "def some_name" --include=*.py .
```
```bash
nl -ba path/to/file.py | sed -n '10,40p'
```
```bash
sed -i 's/old text/new text/' path/to/file.py
```
```bash
cat <<'END' > path/to/new_file.py
print("hello")
END
```
Now reply with your THOUGHT and your first command."""

FORMAT_ERROR = """Your reply was rejected: it must contain exactly ONE ```bash block, and it contained {found}.
Reply with a short THOUGHT and exactly one block:

THOUGHT: what I want to do and why.
```bash
the_command
```
To finish, run `echo {submit}` alone in the block."""

OBSERVATION = "<returncode>{exit_code}</returncode>\n<output>\n{output}</output>"
TIMEOUT = ("<returncode>{exit_code}</returncode>\n<warning>The command was killed after {timeout:g} s "
           "(time limit). Avoid long-running or interactive commands.</warning>\n<output>\n{output}</output>")
ELIDED = "\n[... {n} characters elided: the output was too long; use head, tail, grep or sed -n ...]\n"

# ```bash (or ```sh / ```shell) ... ```: the command is everything between the fences.
_BLOCK = re.compile(r"```(?:bash|sh|shell)[ \t]*\n(.*?)\n?```", re.DOTALL)


class FormatError(ValueError):
    """The reply did not hold exactly one command block; the message goes back to the model."""


def instance_message(problem_statement: str) -> str:
    return INSTANCE.format(problem_statement=problem_statement.strip(), submit=SUBMIT_MARKER)


def parse_reply(text: str) -> tuple[str, str]:
    """(thought, command) of a reply; FormatError with the model-facing message otherwise."""
    blocks = list(_BLOCK.finditer(text))
    if len(blocks) != 1 or not blocks[0].group(1).strip():
        found = f"{len(blocks)} blocks" if len(blocks) != 1 else "an empty block"
        raise FormatError(FORMAT_ERROR.format(found=found, submit=SUBMIT_MARKER))
    return text[: blocks[0].start()].strip(), blocks[0].group(1).strip()


def is_submit(command: str, output: str | None = None) -> bool:
    """The model submits by its command, or by a command whose output starts with the marker."""
    if command.strip() in SUBMIT_COMMANDS:
        return True
    return output is not None and output.lstrip().startswith(SUBMIT_MARKER)


def truncate(output: str, limit: int) -> str:
    """Keep the head and tail of a long output with a marker saying how much was cut."""
    if len(output) <= limit:
        return output
    half = limit // 2
    return output[:half] + ELIDED.format(n=len(output) - 2 * half) + output[-half:]


def observation(output: str, exit_code: int, *, limit: int, timed_out: bool = False,
                timeout: float = 0.0, truncated_at_source: bool = False) -> str:
    """The user message that carries a command's result back to the model."""
    text = truncate(output, limit)
    if truncated_at_source and len(output) <= limit:  # the sandbox itself stopped collecting
        text += ELIDED.format(n="more")
    if text and not text.endswith("\n"):
        text += "\n"
    if timed_out:
        return TIMEOUT.format(exit_code=exit_code, timeout=timeout, output=text)
    return OBSERVATION.format(exit_code=exit_code, output=text)
