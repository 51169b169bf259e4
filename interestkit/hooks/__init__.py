"""Plugins: the hook specifications and the plugin manager that finds and collects them."""

from .manager import (
    ENTRY_POINT_GROUP,
    KERAS_OBJECTS_GROUP,
    KINDS,
    PluginInfo,
    all_plugins,
    allow_list,
    broken_plugins,
    collect,
    get,
    get_plugin_manager,
    import_keras_objects,
    plugin_rows,
    reset,
    strict_mode,
)
from .specs import hookimpl, hookspec

__all__ = [
    "ENTRY_POINT_GROUP", "KERAS_OBJECTS_GROUP", "KINDS", "PluginInfo", "all_plugins", "allow_list",
    "broken_plugins", "collect", "get", "get_plugin_manager", "hookimpl", "hookspec", "import_keras_objects",
    "plugin_rows", "reset", "strict_mode",
]
