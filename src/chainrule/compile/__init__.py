"""Compiled training steps: ``cr.compile(fn)`` records a step once and replays the recording.

See ``docs/compile.md``: :mod:`.recorder` (the recording mode), :mod:`.array_plan` (the plan
replayed on arrays: ops' forward/backward in the engine's order) and :mod:`.codegen` (its
straight-line function), :mod:`.plan` (the op-by-op plan it falls back on), :mod:`.guards`
(when a plan applies), :mod:`.compiled` (the cache and the eager fallback).
"""
from chainrule.compile.compiled import CompiledFunction, CompileWarning, compile

__all__ = ["CompileWarning", "CompiledFunction", "compile"]
