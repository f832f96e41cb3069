"""What Binance spot and Binance USD-M futures do the same way, written once (sans-IO).

Both venues document the same conventions in several places: endpoint security (``X-MBX-APIKEY``, HMAC
``signature``, ``timestamp`` within ``recvWindow``), the ``{"code", "msg"}`` error shape, the combined-stream
envelope, ``origClientOrderId``/``orderId`` order references, and the exchangeInfo ``symbols`` and
``rateLimits`` layout. Code that follows one of those shared rules lives here; each venue's folder keeps its
documented differences (its routes, weights, error codes, sequencing rule, wire fields) and imports the
rest. Modules (each cites both venues' doc sections):

* :mod:`.face_http` - the simulator faces' REST answering, account opening and stream-path parsing;
* :mod:`.orders` - the one-order reference parameter both order endpoints take;
* :mod:`.exchange_info` - exchangeInfo symbols into rules (odd listings skipped) and rate limits into pools;
* :mod:`.book_sync` - the counters, buffer and reset both book sequencing rules share.

A venue-neutral package: the registry does not list it, and it imports neither trio nor httpx.
"""
