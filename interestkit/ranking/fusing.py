"""Calling a fusion plugin: what it raises or returns wrongly becomes a one-line PluginError naming it.

A fusion is third-party code run once per user. ``guarded_fusion`` builds it from its
parameters and wraps its ``fuse``, so that a fusion that raises, returns something other
than ``{interest: finite number}`` or invents interests fails with the fusion's name, its
plugin and distribution, instead of a traceback; the rest of the pipeline is untouched.
"""

from __future__ import annotations

import math

from ..errors import ConfigError, InterestkitError, PluginError
from ..hooks import PluginInfo, one_line


class GuardedFusion:
    """A fusion plugin's instance whose failures name it (``fuse`` is all ranking calls)."""

    def __init__(self, info: PluginInfo, fusion):
        self.info = info
        self.fusion = fusion

    def _fail(self, what: str) -> PluginError:
        return PluginError(f"fusion {self.info.name!r} from {self.info.provider} {what}")

    def fuse(self, scores: dict) -> dict:
        try:
            fused = self.fusion.fuse(scores)
        except InterestkitError:
            raise
        except Exception as error:
            raise self._fail(f"failed: {one_line(error)}") from error
        if not isinstance(fused, dict):
            raise self._fail(f"returned {type(fused).__name__}, expected a dict {{interest: score}}")
        known = {interest for per_modality in scores.values() for interest in per_modality}
        for interest, value in fused.items():
            if interest not in known:
                raise self._fail(f"returned the interest {interest!r}, which no modality scored")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self._fail(f"returned {value!r} for {interest!r}, expected a finite number")
        return fused


def guarded_fusion(info: PluginInfo, params: dict, source: str) -> GuardedFusion:
    """``info.cls(**params)`` wrapped; bad parameters are a ConfigError naming where they came from."""
    try:
        fusion = info.cls(**params)
    except ConfigError as error:
        raise ConfigError(f"fusion {info.name!r} ({source}): {error}") from None
    except InterestkitError:
        raise
    except Exception as error:
        raise PluginError(f"fusion {info.name!r} from {info.provider} failed to start: {one_line(error)}") from error
    return GuardedFusion(info, fusion)
