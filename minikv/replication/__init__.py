"""Replication: a primary streams its changes to replicas, which apply them (Redis's PSYNC2).

``primary`` is what every server does for the replicas connected to it (the stream, the
backlog, full sync by fork, WAIT); ``link`` is the replica role (REPLICAOF, the connection to
the primary, loading its snapshot, applying its stream); ``backlog`` holds the recent stream
for partial resyncs.
"""
