"""The ``interestkit`` command: the click group, with each command group attached explicitly.

Library errors (``InterestkitError``) become one-line messages with exit code 2; usage
errors (a flag click cannot parse) exit with 64; any other exception is the last line of
defence's (``failures``): one line, exit code 1 (2 for OS errors), the traceback with
``--debug``. Heavy imports (TensorFlow, MLflow) happen inside commands, so ``--help`` and
``plugins`` stay fast. Each built-in command's module is imported when that command runs
(``cli.lazy``), and plugins' commands are collected only when the command word is not a
built-in one (or there is none: ``--help``), so a scoring command starts without importing
the others' dependencies or every plugin.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import click

from .. import __version__, hooks, quiet
from ..errors import InterestkitError
from ..settings import DEBUG_ENV, STRICT_PLUGINS_ENV, env_flag
from . import failures
from .lazy import LazyCommands, loader
from .output import echo_err
from .runtime import add_runtime_option


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's timeout) handled like Ctrl-C: runs are closed cleanly."""


def _terminate(signum, frame):
    raise Terminated()


class InterestkitGroup(click.Group):
    """Turns every error into a one-line message, never a traceback (unless ``--debug``);
    SIGTERM into Ctrl-C; usage errors into exit code 64 (docs/errors.md)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            raise _usage(error) from None

    def invoke(self, ctx):
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
        debug = bool(ctx.params.get("debug")) or env_flag(DEBUG_ENV)
        try:
            return super().invoke(ctx)
        except InterestkitError as error:
            if debug:
                echo_err(failures.traceback_text(error))
            echo_err(f"Error: {' '.join(str(error).split())}")
            ctx.exit(error.exit_code)
        except KeyboardInterrupt as interrupt:
            echo_err("Interrupted: any unfinished run was marked failed and registered nothing.")
            ctx.exit(failures.TERMINATED if isinstance(interrupt, Terminated) else failures.INTERRUPTED)
        except click.UsageError as error:
            raise _usage(error) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # the last line of defence: one line saying what failed and where
            message, code = failures.describe(error)
            if debug:
                echo_err(failures.traceback_text(error))
            hint = "" if debug else f"; run with --debug (or {DEBUG_ENV}=1) for the traceback"
            echo_err(f"Error: {message}{hint}")
            ctx.exit(code)
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)


def _usage(error: click.UsageError) -> click.UsageError:
    """Usage errors (help shown for a missing command too) exit with 64, apart from data and config errors' 2."""
    error.exit_code = failures.USAGE
    return error


@click.group(cls=InterestkitGroup)
@click.version_option(__version__, prog_name="interestkit")
@click.option("--strict-plugins", is_flag=True,
              help=f"Fail when a plugin cannot be loaded, instead of warning and skipping it ({STRICT_PLUGINS_ENV}=1).")
@click.option("--debug", is_flag=True,
              help=f"Print the traceback of an error, and TensorFlow's and MLflow's start-up lines ({DEBUG_ENV}=1).")
@click.pass_context
def cli(ctx, strict_plugins, debug):
    """Learn users' interests from their posts' photos and captions.

    Train models with plugins, track and register them in MLflow, rank users'
    interests and recommend ads. Start with 'interestkit demo'.
    """
    if debug and not env_flag(DEBUG_ENV):  # library code shows TensorFlow's and MLflow's lines too
        ctx.call_on_close(lambda: _restore_env(DEBUG_ENV, None))
        os.environ[DEBUG_ENV] = "1"
    quiet.start()
    if strict_plugins:
        _strict_plugins(ctx)
    if hooks.strict_mode() and ctx.invoked_subcommand != "plugins":  # 'plugins' lists everything first
        hooks.check_plugins()


def _strict_plugins(ctx):
    """Plugins load under strict rules for this invocation (the environment is restored after)."""
    previous = os.environ.get(STRICT_PLUGINS_ENV)
    os.environ[STRICT_PLUGINS_ENV] = "1"
    ctx.call_on_close(lambda: _restore_env(STRICT_PLUGINS_ENV, previous))
    hooks.reset()


def _restore_env(name, value):
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


#: the built-in commands, each imported when it is first used ("module:attribute" under interestkit.cli)
#: and given ``--runtime`` where it scores
_SCORING = ("predict", "rank", "recommend", "evaluate", "serve", "batch")  # and test, with its own (it adds both)
_BUILT_IN = {
    "plugins": "plugins:plugins_command", "cache": "plugins:cache", "train": "train:train",
    "compare": "train:compare", "models": "models:models", "ui": "models:ui", "rank": "ranking:rank",
    "recommend": "ranking:recommend", "evaluate": "evaluate:evaluate", "fusion": "evaluate:fusion_group",
    "serve": "serve:serve", "demo": "demo:demo", "taxonomy": "taxonomy:taxonomy_group",
    "zero-shot": "zeroshot:zero_shot_command", "predict": "predict:predict", "test": "assess:assess_command",
    "ensemble": "ensemble:ensemble", "batch": "batch:batch_command", "audience": "audience:audience_command",
    "tune": "tune:tune",
}
cli.commands = LazyCommands({
    name: loader(f"{__package__}.{target}", add_runtime_option if name in _SCORING else None)
    for name, target in _BUILT_IN.items()})


def _global_options(args):
    """The arguments before the command name."""
    options = []
    for arg in args:
        if not arg.startswith("-"):
            break
        options.append(arg)
    return options


def _register_plugin_commands():
    try:
        with hooks.lenient():  # in strict mode the command fails on its own, after 'plugins' could list them
            pm = hooks.get_plugin_manager()
            for impl in pm.hook.register_commands.get_hookimpls():
                try:
                    impl.function(cli=cli)
                except Exception as error:  # one plugin's commands, not the whole CLI
                    hooks.report(hooks.Problem(hooks.describe_plugin(pm, impl.plugin_name),
                                               f"failed in register_commands: {hooks.one_line(error)}",
                                               "its commands are skipped", impl.plugin_name, True))
    except InterestkitError as error:
        echo_err(f"Error: {error}")
        sys.exit(error.exit_code)


def _command_name(args, options):
    """The command word after the global options (None when there is none)."""
    return args[len(options)] if len(args) > len(options) else None


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    options = _global_options(args)
    if "--debug" in options:
        os.environ[DEBUG_ENV] = "1"
    quiet.start()  # before anything loads TensorFlow or MLflow
    if "--strict-plugins" in options:
        os.environ[STRICT_PLUGINS_ENV] = "1"  # before plugins load for their commands
    # plugins' commands load only where they may be asked for, and for 'plugins', which reports
    # every plugin's health (a broken command hook included)
    if _command_name(args, options) not in _BUILT_IN or _command_name(args, options) == "plugins":
        _register_plugin_commands()
    return cli.main(args=argv, prog_name="interestkit")
