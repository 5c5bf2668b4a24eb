"""The differentiable ops: one ``Function`` subclass per op, forward and vector-Jacobian product
side by side.  Free functions here are exported as ``cr.exp`` etc.; ``methods.py`` binds them to
``Tensor`` as methods and operators."""
