"""Scrapers look a cédula up at the source and return a :class:`~django_cedula.results.ScrapeResult`."""

from .base import BaseScraper, Scraper
from .chain import get_scraper

__all__ = ["BaseScraper", "Scraper", "get_scraper"]
