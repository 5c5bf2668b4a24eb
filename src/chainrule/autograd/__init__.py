"""Reverse-mode automatic differentiation: the engine, custom functions and derivative tools.

``cr.autograd.grad``, ``Function``, ``gradcheck``, ``functional`` (Jacobians, Hessians, products),
``detect_anomaly``, forward mode (``forward_ad``: dual tensors); the engine itself is
``engine.py``.
"""
from chainrule.autograd import forward_ad, functional
from chainrule.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.function import Function
from chainrule.autograd.grad import backward, grad
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                 is_inference_mode_enabled, no_grad, set_grad_enabled)

__all__ = ["Function", "GradcheckError", "backward", "detect_anomaly", "enable_grad", "forward_ad",
           "functional", "grad", "gradcheck", "gradgradcheck", "inference_mode",
           "is_anomaly_enabled", "is_grad_enabled", "is_inference_mode_enabled", "no_grad",
           "set_detect_anomaly", "set_grad_enabled"]
