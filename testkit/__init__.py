"""Helpers the tests and the benchmarks share; never imported by the services.

* ``broker``  -- administering the test broker: vhosts of a run's own, stopping and starting it;
* ``couch``   -- a throwaway CouchDB-API server (pouchdb-server in memory);
* ``shared``  -- where the reference data beside the repository is (``../shared``).
"""
