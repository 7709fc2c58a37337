"""OCPP 2.0.1 on the same endpoint: handlers and commands of that version.

The consumer, framing, journal and command path are shared with 1.6; what
differs per version is chosen through `ocpp_consumer.protocols`.
"""
