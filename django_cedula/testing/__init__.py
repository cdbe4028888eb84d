"""Tools for testing projects that use django-cedula: a fake scraper, a replica of the source, fixtures."""
