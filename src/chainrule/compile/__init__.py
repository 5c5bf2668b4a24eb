"""Compiled training steps: ``cr.compile(fn)`` records a step once and replays the recording.

See ``docs/compile.md``: :mod:`.recorder` (the recording mode), :mod:`.array_plan` (the plan
replayed on arrays: ops' forward/backward in the engine's order) and :mod:`.codegen` (its
straight-line function), :mod:`.trace`, :mod:`.flat_plan` and :mod:`.flat_codegen` (the NumPy
calls inside the ops, traced once and replayed on preallocated buffers), :mod:`.plan` (the
op-by-op plan the others fall back on), :mod:`.guards` (when a plan applies), :mod:`.compiled`
(the cache and the eager fallback).
"""
from chainrule.compile.compiled import CompiledFunction, CompileWarning, compile

__all__ = ["CompileWarning", "CompiledFunction", "compile"]
