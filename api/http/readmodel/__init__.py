"""The HTTP read model: the current run's serving data held in memory, shaped for the wire.

The routes call `reads.Reads` and nothing else, so no query lives in a route. The two hot
endpoints (`/influencers`, `/customers/{id}`) must answer in a few milliseconds at a million
customers, which per-request SQL cannot do, so the current run is served from memory. Each
module holds one part:

- `tag_index`: every tag assignment of the run grouped by customer (CSR offsets), and how it
  is read from the store within bounded memory;
- `run_cache`: one run's metrics columns, ranking and catalog, the customers' attributes, and
  the small LRU maps that hold rendered pages and other runs;
- `refresh`: the store opened lazily, the served run built on first use and rebuilt in the
  background when a newer run appears, and the PII declaration kept current;
- `ranking`: the influence ranking filtered by community and tag, rendered as cached pages;
- `communities`: communities, their leaders and tag composition, and the tag catalog;
- `segments`: segment pages and the streamed CSV export;
- `network`: a customer's ego network, read per request;
- `reads`: the `Reads` facade the routes call.

Profiles are built by `api.usecases.profiles` and rendered by `api.usecases.encoding`, the
same builder and encoder the CLI uses.
"""
