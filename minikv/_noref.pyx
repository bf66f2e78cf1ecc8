# cython: language_level=3, boundscheck=False, wraparound=False
"""Reads of the keyspace's shard dicts that write nothing to them (compiled only).

A Python-level walk over ``Db.data`` (``sum(map(len, shards))``) takes a new reference to
every shard dict it passes, and a reference count is a write to the dict's header. While a
snapshot child is alive, each such write makes the kernel copy the page it is on: one plain
INFO during a save walked the 16 x 2 x 1024 shard dicts of INFO keyspace and copied ~500 pages
(2 MB) for nothing. These functions read the same figures through borrowed pointers
(``PyList_GET_ITEM``, ``PyDict_GET_SIZE``, ``PyDict_Next``), which only read memory.
``minikv.keyspace`` uses them when this module is built and falls back to the plain Python
expressions otherwise (the same figures, with the page copies).
"""

from cpython.object cimport PyObject


cdef extern from "Python.h":
    Py_ssize_t PyList_GET_SIZE(PyObject*)
    PyObject* PyList_GET_ITEM(PyObject*, Py_ssize_t)
    Py_ssize_t PyDict_GET_SIZE(PyObject*)
    bint PyDict_Next(PyObject*, Py_ssize_t*, PyObject**, PyObject**)
    bint PyLong_CheckExact(PyObject*)
    long long PyLong_AsLongLong(PyObject*) except? -1


def total_len(list dicts) -> int:
    """``sum(map(len, dicts))`` for a list of exact dicts (the keyspace's shards)."""
    cdef PyObject* lst = <PyObject*>dicts
    cdef Py_ssize_t i, n = PyList_GET_SIZE(lst), total = 0
    for i in range(n):
        total += PyDict_GET_SIZE(PyList_GET_ITEM(lst, i))
    return total


def deadline_sample(list dicts, long long now_ms, Py_ssize_t sample) -> tuple:
    """``(sum of remaining ms, count)`` over the deadlines still in the future, walking the
    shards in order and stopping after the first shard that brings the count to ``sample``
    (``info._avg_ttl``'s rule). A deadline that is not an exact int is skipped."""
    cdef PyObject* lst = <PyObject*>dicts
    cdef Py_ssize_t i, pos, n = PyList_GET_SIZE(lst), count = 0
    cdef long long total = 0, deadline
    cdef PyObject* key
    cdef PyObject* value
    for i in range(n):
        pos = 0
        while PyDict_Next(PyList_GET_ITEM(lst, i), &pos, &key, &value):
            if not PyLong_CheckExact(value):
                continue
            deadline = PyLong_AsLongLong(value)
            if deadline > now_ms:
                total += deadline - now_ms
                count += 1
        if count >= sample:
            break
    return (total, count)
