"""What Binance spot and Binance USD-M futures do the same way, written once (sans-IO).

Both venues document the same conventions in several places: endpoint security (``X-MBX-APIKEY``, HMAC
``signature``, ``timestamp`` within ``recvWindow``), the ``{"code", "msg"}`` error shape, the combined-stream
envelope, ``origClientOrderId``/``orderId`` order references, and the exchangeInfo ``symbols`` and
``rateLimits`` layout. Code that follows one of those shared rules lives here; each venue's folder keeps its
documented differences (its routes, weights, error codes, sequencing rule, wire fields) and imports the
rest. Modules (each cites both venues' doc sections):

* :mod:`.dialect_base` - the dialect methods both venues answer the same way (a field-less mixin over each
  venue's ``commands``/``codec``/``codec_rest``/``rules``/``errors`` modules, checked by mypy as protocols);
* :mod:`.envelope` - the first stage of a stream frame: combined wrapper, raw event, subscribe answer, error;
* :mod:`.face_http` - the simulator faces' REST answering, account opening and stream-path parsing;
* :mod:`.depth_window` - the simulator faces' diff-depth windows (each venue writes its own ``depthUpdate``);
* :mod:`.orders` - the one-order reference parameter both order endpoints take, and the Fill of a TRADE
  execution report;
* :mod:`.exchange_info` - exchangeInfo symbols into rules (odd listings skipped) and rate limits into pools;
* :mod:`.book_sync` - the counters, buffer and reset both book sequencing rules share.
* :mod:`.wsapi_orders` - order entry over the WebSocket API: a signed REST request as its WebSocket twin, an
  answer as the REST result (each venue keeps its table of twins);
* :mod:`.face_wsapi` - the simulator faces' WebSocket API methods run by their REST routes' handlers.

A venue-neutral package: the registry does not list it, and it imports neither trio nor httpx.
"""
