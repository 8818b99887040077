"""The `monkeys-swe` command line.

Each subcommand lives in its own module under this package and exposes a click
command named `command`. They are imported only when invoked, so `--help` and
quick commands stay fast even though some pull in docker, torch or llama.cpp.
"""
from __future__ import annotations

import importlib
import sys

import click

# name -> (module, one-line help shown by `monkeys-swe --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("monkeys_swe.cli.demo", "Run a small GSM8K job on the embedded CPU model."),
    "bench": ("monkeys_swe.cli.bench", "Sample, verify and report on a benchmark task."),
    "report": ("monkeys_swe.cli.report", "Coverage tables, plots and JSON for one or more runs."),
    "export": ("monkeys_swe.cli.export", "Export a run as SWE-bench predictions or monkey_business JSON."),
    "verify": ("monkeys_swe.cli.verify", "Verify SWE-bench predictions (or one patch) in Docker."),
    "images": ("monkeys_swe.cli.images", "Build, list and prune Docker snapshot images."),
    "solve": ("monkeys_swe.cli.solve", "Draw many patches for one issue and verify each in Docker."),
    "runs": ("monkeys_swe.cli.runs", "List runs: task, model, samples, coverage, errors, state."),
    "show": ("monkeys_swe.cli.show", "Show one attempt of a run (an agent trajectory, a patch)."),
    "view": ("monkeys_swe.cli.view", "Write a browsable HTML page of a run's problems and attempts."),
    "sweep": ("monkeys_swe.cli.sweep", "Run a grid of benchmark runs from a YAML config."),
    "pool": ("monkeys_swe.cli.pool", "Pool several systems' SWE-bench predictions into one run and report it."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        return importlib.import_module(COMMANDS[name][0]).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


# Commands that start containers: Ctrl-C / SIGTERM must remove them (handlers installed once, here).
CONTAINER_COMMANDS = {"demo", "bench", "verify", "images", "solve", "sweep", "pool"}
_debug = False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="monkeys-swe")
@click.option("--verbose", "-v", is_flag=True, help="Log progress details to stderr.")
@click.option("--debug", is_flag=True, help="Log everything, and show the traceback of any error.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """Repeated sampling with automatic verification.

    Every run directory also gets a log file (run.log) with the tracebacks of verifier and sampler errors.
    """
    global _debug
    from monkeys_swe.logs import configure

    _debug = debug
    configure(verbose=verbose, debug=debug)
    if ctx.invoked_subcommand in CONTAINER_COMMANDS:
        from harness.lifecycle import install_signal_handlers

        install_signal_handlers()  # removes our containers, then behaves as the previous handler


def main() -> None:
    from monkeys_swe.errors import UserError

    try:
        cli.main(standalone_mode=False)
    except UserError as exc:
        if _debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort as exc:  # click's form of KeyboardInterrupt (SIGTERM's Terminated inside)
        _interrupted(getattr(exc.__cause__ or exc.__context__, "signum", 2))
    except click.UsageError as exc:  # one line, like every other user mistake
        root = exc.ctx.find_root().command_path.split() if exc.ctx else []
        where = " ".join(["monkeys-swe", *(exc.ctx.command_path.split()[len(root):] if exc.ctx else [])])
        click.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (harness.lifecycle.Terminated)
        _interrupted(getattr(exc, "signum", 2))
    except Exception as exc:  # a bug: one line, unless --debug asks for the traceback
        if _debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        click.echo(f"error: unexpected {type(exc).__name__}: {first} (rerun with --debug for the traceback)", err=True)
        sys.exit(1)


def _interrupted(signum: int) -> None:
    """The resume line and 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    import os

    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):  # stopping already: a second Ctrl-C must not cut this short
        signal.signal(sig, signal.SIG_IGN)
    runner = sys.modules.get("monkeys_swe.runner")
    click.echo("interrupted: everything finished so far is saved; rerun the same command to resume", err=True)
    if runner is not None and runner.ABANDONED:  # a decode still runs in a model: finalizing the interpreter would free it under it
        import atexit

        atexit._run_exitfuncs()  # containers are removed as on any exit
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(128 + signum)
    sys.exit(128 + signum)
