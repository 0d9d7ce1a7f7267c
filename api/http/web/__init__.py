"""The web workspace served at ``/``: HTML shells, JavaScript modules and one chart library.

The shells carry no customer data. A page asks for an API key (kept in the tab's
sessionStorage), then calls the JSON API with it, so roles and PII masking are the API's.
"""
