"""The relay's HTTP layer: routes from :mod:`cove.protocol.wire.api`, thin
handlers, one error middleware, an access log without addresses."""
