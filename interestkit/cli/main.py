"""The ``interestkit`` command: the click group, with each command group attached explicitly.

Library errors (``InterestkitError``) become one-line messages with exit code 2. Heavy
imports (TensorFlow, MLflow) happen inside commands, so ``--help`` and ``plugins`` stay fast.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import click

from .. import __version__, hooks
from ..errors import InterestkitError
from ..settings import STRICT_PLUGINS_ENV
from . import demo, evaluate, models, plugins, ranking, serve, taxonomy, train
from .output import echo_err


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's timeout) handled like Ctrl-C: runs are closed cleanly."""


def _terminate(signum, frame):
    raise Terminated()


class InterestkitGroup(click.Group):
    """Turns library errors into one-line messages, never tracebacks; SIGTERM into Ctrl-C."""

    def invoke(self, ctx):
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
        try:
            return super().invoke(ctx)
        except InterestkitError as error:
            echo_err(f"Error: {error}")
            ctx.exit(error.exit_code)
        except KeyboardInterrupt as interrupt:
            echo_err("Interrupted: any unfinished run was marked failed and registered nothing.")
            ctx.exit(143 if isinstance(interrupt, Terminated) else 130)
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=InterestkitGroup)
@click.version_option(__version__, prog_name="interestkit")
@click.option("--strict-plugins", is_flag=True,
              help=f"Fail when a plugin cannot be loaded, instead of warning and skipping it ({STRICT_PLUGINS_ENV}=1).")
@click.pass_context
def cli(ctx, strict_plugins):
    """Learn users' interests from their posts' photos and captions.

    Train models with plugins, track and register them in MLflow, rank users'
    interests and recommend ads. Start with 'interestkit demo'.
    """
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
                 taxonomy.taxonomy_group):
    cli.add_command(_command)


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
    if "--strict-plugins" in _global_options(sys.argv[1:] if argv is None else argv):
        os.environ[STRICT_PLUGINS_ENV] = "1"  # before plugins load for their commands
    _register_plugin_commands()
    return cli.main(args=argv, prog_name="interestkit")
