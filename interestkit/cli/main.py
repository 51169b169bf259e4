"""The ``interestkit`` command: the click group, with each command group attached explicitly.

Library errors (``InterestkitError``) become one-line messages with exit code 2; usage
errors (a flag click cannot parse) exit with 64; any other exception is the last line of
defence's (``failures``): one line, exit code 1 (2 for OS errors), the traceback with
``--debug``. Heavy imports (TensorFlow, MLflow) happen inside commands, so ``--help`` and
``plugins`` stay fast.
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
from . import assess, batch, demo, ensemble, evaluate, failures, models, plugins, predict, ranking, serve, taxonomy, train, tune, zeroshot
from .audience import audience_command
from .export import export_command
from .runtime import add_runtime_option
from .output import echo_err


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


for _command in (plugins.plugins_command, plugins.cache, train.train, train.compare, models.models, models.ui,
                 ranking.rank, ranking.recommend, evaluate.evaluate, evaluate.fusion_group, serve.serve, demo.demo,
                 taxonomy.taxonomy_group, zeroshot.zero_shot_command,
                 predict.predict, assess.assess_command, ensemble.ensemble, batch.batch_command):
    cli.add_command(_command)
cli.add_command(audience_command)
models.models.add_command(export_command)
for _command in (predict.predict, ranking.rank, ranking.recommend, evaluate.evaluate, assess.assess_command, serve.serve,
                 batch.batch_command):
    add_runtime_option(_command)
cli.add_command(tune.tune)


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


def main(argv=None):
    options = _global_options(sys.argv[1:] if argv is None else argv)
    if "--debug" in options:
        os.environ[DEBUG_ENV] = "1"
    quiet.start()  # before anything loads TensorFlow or MLflow
    if "--strict-plugins" in options:
        os.environ[STRICT_PLUGINS_ENV] = "1"  # before plugins load for their commands
    _register_plugin_commands()
    return cli.main(args=argv, prog_name="interestkit")
