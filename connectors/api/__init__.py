"""api mode: extract from the vendors' APIs with their own SDKs, page by page.

Each extractor yields :class:`~connectors.api.pages.Page` objects holding records exactly
as the API returned them (the vendor's wire format, the same shape as a source drop's
lines), so files mode and api mode share one landing and load path.
"""
