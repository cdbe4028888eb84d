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


class PrepareExplodesScraper(BaseScraper):
    """Its ``prepare()`` raises (the job calls it before waiting for a turn under a rate limit)."""

    lookups = 0

    def prepare(self) -> None:
        raise RuntimeError("the browser could not start: out of memory")

    def scrape_cedula(self, cedula: str) -> Any:
        type(self).lookups += 1
        return {"status": "not_found"}


class QuotingScraper(BaseScraper):
    """A host's scraper whose exception quotes the number it was given."""

    def scrape_cedula(self, cedula: str) -> Any:
        raise RuntimeError(f"lookup of {cedula} failed at https://user:hunter2@proxy.example/?token=s3cret")


class ConnectionDroppingScraper(BaseScraper):
    """Answers found, after the job's database connection was lost while it "looked up": the raw
    connection under Django's wrapper is closed, as a server restart or a network cut leaves it."""

    drops = 0

    def scrape_cedula(self, cedula: str) -> Any:
        raw = connection.connection
        if raw is not None:
            raw.close()
            type(self).drops += 1
        return {"status": "found", "departamento": "ANTIOQUIA", "municipio": "MEDELLÍN", "mesa": "7"}
