"""Captcha solvers: site key and page URL in, a reCAPTCHA token out."""

from .base import CaptchaSolver, get_captcha_solver

__all__ = ["CaptchaSolver", "get_captcha_solver"]
