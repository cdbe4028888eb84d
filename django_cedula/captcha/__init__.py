"""Captcha solvers: site key and page URL in, a reCAPTCHA token out."""

from .base import CaptchaSolver, SolvedToken, get_captcha_solver

__all__ = ["CaptchaSolver", "SolvedToken", "get_captcha_solver"]
