"""Media: how the gateway gets the bytes of what it is asked to play (media.md; docs/media.md).

One module per concern, none of them tied to a service (the voicemail service hosts them
today; a media service of its own could host them unchanged):

* ``names``     -- media names: what a gateway plays as is (2.1), what a name points at (4.1);
* ``prompts``   -- which document answers for a ``prompt://`` name (4.2, 6.2);
* ``audio``     -- the one resolver: where a document's audio is (``_attachments``,
  ``kz_att_link`` chains, external storage), and its bytes as a stream (4.5, 6.2);
* ``signer``    -- signed, expiring URL tokens with a purpose (6.3);
* ``endpoint``  -- ``GET``/``HEAD /media/<token>/<name>`` on any aiohttp app (6.4);
* ``responder`` -- answers ``media_req`` on the shared queue ``media_requests`` (6.1, 6.2);
* ``wav``, ``system_prompts``, ``seeding``, ``commands`` -- system prompts in the store
  and ``kzvoice prompts import|seed`` (6.7).

Wiring, in the order things are made::

    signer = UrlSigner(settings.upload_secret)
    resolver = AudioResolver(store)
    endpoint = MediaEndpoint(resolver, signer, base_url=lambda: site.url, ttl_s=settings.media_url_ttl_s)
    endpoint.mount(app)                       # before any catch-all route of that app
    prompts = PromptLookup(store, config_client)
    responder = await MediaResponder(bus, resolver, endpoint, prompts).start()
"""
