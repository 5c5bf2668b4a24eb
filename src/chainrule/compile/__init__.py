"""Compiled training steps: ``cr.compile(fn)`` records a step once and replays the recording.

See ``docs/compile.md``: :mod:`.recorder` (the recording mode), :mod:`.plan` (the plan and its
replay), :mod:`.guards` (when a plan applies), :mod:`.compiled` (the cache and the fallback).
"""
from chainrule.compile.compiled import CompiledFunction, CompileWarning, compile

__all__ = ["CompileWarning", "CompiledFunction", "compile"]
