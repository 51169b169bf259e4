"""Plugins: the hook specifications, the plugin manager, and the checks on what plugins register."""

from .manager import (
    ENTRY_POINT_GROUP,
    KERAS_OBJECTS_GROUP,
    Problem,
    allow_list,
    broken_plugins,
    describe_plugin,
    enforce_strict,
    get_plugin_manager,
    import_keras_objects,
    lenient,
    one_line,
    plugin_rows,
    problems,
    report,
    reset,
    strict_mode,
)
from .registrations import (
    KINDS,
    PluginInfo,
    all_plugins,
    check_plugins,
    collect,
    get,
    inventory,
    registrations,
)
from .specs import hookimpl, hookspec

__all__ = [
    "ENTRY_POINT_GROUP", "KERAS_OBJECTS_GROUP", "KINDS", "PluginInfo", "Problem", "all_plugins", "allow_list",
    "broken_plugins", "check_plugins", "describe_plugin", "collect", "enforce_strict", "get", "get_plugin_manager", "hookimpl",
    "hookspec", "import_keras_objects", "inventory", "lenient", "one_line", "plugin_rows", "problems", "registrations", "report", "reset",
    "strict_mode",
]
