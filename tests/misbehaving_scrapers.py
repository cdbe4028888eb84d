"""Scrapers that misbehave, for the job's tests."""

from __future__ import annotations

from typing import Any

from django.db import connection

from django_cedula.scrapers import BaseScraper


class ExplodingScraper(BaseScraper):
    def scrape_cedula(self, cedula: str) -> Any:
        raise RuntimeError("browser crashed")


class GarbageScraper(BaseScraper):
    def scrape_cedula(self, cedula: str) -> Any:
        return ["not", "a", "result"]


class TransactionSpyScraper(BaseScraper):
    in_transaction: bool | None = None

    def scrape_cedula(self, cedula: str) -> Any:
        type(self).in_transaction = connection.in_atomic_block
        return {"status": "not_found"}
