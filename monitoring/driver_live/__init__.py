"""The drivers' live channel (WebSocket /ws/driver/): their sessions as they happen.

- consumer.py: the socket (authentication, snapshot, keep-alive, limits);
- push.py: the `driver_live` subscriber of domain events (instant messages);
- hub.py: the per-process poller (meter readings, and what a push lost);
- sessions.py: the reads and the messages; watchers.py: who is watching;
- auth.py: the REST API's token authentication on a handshake.
"""
