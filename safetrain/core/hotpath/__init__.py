"""The hot paths: the two requests that come by the thousand on exam day, answered before Django's page stack.

- `POST /api/v1/study-sessions/{id}/heartbeats` with `X-Study-Key` (learning.hotpath): a playing learner's beat.
- `PUT /api/v1/attempts/{id}/answers/{question}` with `X-Exam-Key` (assessment.hotpath): one exam answer.

The parts, each written once:
- `dispatch`: the WSGI entry (`HotPath`, config.wsgi) and its routes; `asgi`: the same routes under ASGI
  (`HotPathASGI`, config.asgi).
- `keys`: the page keys (an HMAC of the object and the sign-in that opened the page; no CSRF to check).
- accounts.gate: the sign-in, account and face gate, shared with the account middleware and the API's
  authentication.
- `db`: one locked read and the writes in two round trips, in libpq's pipeline mode, each statement prepared on
  the connection the first time it runs (unless `DB_PREPARED_STATEMENTS=false`).
- The handlers apply the same decisions as the API (learning.beats.assess_beat, assessment's answer check) and hand
  every case that is not the plain case to the full stack, untouched: nothing is written then.

No private API of psycopg, asgiref, asyncio or Django is used. One shortcut below psycopg's cursors remains, kept
because a same-run benchmark shows its gain (bench/README.md, "Where a heartbeat's time goes"):
- `db` drives libpq's pipeline mode through the connection's `pgconn` (psycopg.pq, documented for sending low-level
  commands), with the connection's own dumpers and loaders (its `adapters`), instead of psycopg's
  `Connection.pipeline()` and cursors, whose per-statement machinery cost the server an eighth of its CPU a beat.
"""
