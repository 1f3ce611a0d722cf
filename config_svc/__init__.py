"""config_svc: KAZOO's sysconf on the bus -- system defaults, account overrides, change events.

Modules, one concern each:

* ``documents`` -- where config documents live and how they are named;
* ``reads``     -- the read semantics of config.md section 2 (system and account);
* ``writes``    -- the write procedure of config.md section 3, with conflict retry, announced
  by ``services.config.announce`` (the doc_update events of config.md 4.6);
* ``listener``  -- the ``sysconf_listener`` queue: get_req, set_req, flush_req;
* ``app``       -- wiring (``build(context)``).
"""
